"""What evidence is gathered. A probe takes a ScanContext and returns plain data; the
ScanContext computes each probe once per target."""
