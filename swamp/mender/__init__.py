"""The Mender workflow dialect: JSON (or YAML) workflows of sequential `http`,
`cli`, `nats` and `smtp` tasks with `${…}` substitution, loaded as swamp
workflows and sent byte for byte as Mender's worker sends them.

`substitute` does Mender's substitution and writes JSON as Go does, `dialect`
validates a file and translates it into a `Workflow`, `tasks` executes `http`
and `cli` tasks (`mender/http`, `mender/cli`) and `messaging` the `nats` and
`smtp` ones (`mender/nats`, `mender/smtp`).
"""
