"""Pure domain of ITR: models, the issue state machine and classification rules.

Nothing here performs I/O or reads the clock, so every module can be imported inside
the Temporal workflow sandbox and tested with plain unit and property tests.
"""
