"""Building blocks every other area uses: errors a user can act on (``errors``), atomic and
byte-reproducible file I/O with provenance (``fileio``), seeding (``seeding``), progress lines
(``progress``), tidy-table helpers (``tables``), statistics over seeds (``statistics``),
canonical settings (``canonical``) and the hidden activations' names (``activations``)."""
