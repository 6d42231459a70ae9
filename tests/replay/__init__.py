"""The replay corpus: recorded histories of every released workflow version, and their replay."""
