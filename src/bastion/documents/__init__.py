"""Documents: ingestion and retrieval of enterprise documents."""
