"""The mlflow source against a real MLflow server (the prompt registry)."""
