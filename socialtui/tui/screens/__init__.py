"""Screens: the main screen, the reply composer, the timelines, and the dialogs."""
