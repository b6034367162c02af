"""Results: versioned schemas, the metadata every result carries, documents saved, loaded and merged."""
