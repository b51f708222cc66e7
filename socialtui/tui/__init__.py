"""The Textual dashboard. The only part of socialtui that imports Textual; it reads and writes
through the core (`store`, `overview`, `outbox`, `sync`, `networks`) and owns no rules of its own."""
