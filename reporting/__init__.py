"""`wood report`: collect run folders and write report.md and a self-contained report.html."""
