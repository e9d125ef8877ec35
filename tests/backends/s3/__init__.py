"""The s3 source against a real moto server (the S3 API over HTTP)."""
