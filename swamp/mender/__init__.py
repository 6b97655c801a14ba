"""The Mender workflow dialect: JSON workflows of sequential `http` and `cli`
tasks with `${…}` substitution, loaded as swamp workflows.

`substitute` does Mender's substitution, `dialect` validates a file and
translates it into a `Workflow`, `tasks` holds the types that execute its
tasks (`mender/http`, `mender/cli`).
"""
