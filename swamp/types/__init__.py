"""Model types: the code that acts. Built-ins plus the entry-point group
`swamp.model_types`; see `registry`."""
