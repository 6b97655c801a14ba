"""The durable workflow engine: runs of jobs and steps, journaled to disk."""
