"""Building blocks every other area uses: errors a user can act on, atomic and
byte-reproducible file I/O with provenance, seeding, progress lines, tidy-table helpers,
statistics over seeds, canonical settings."""
