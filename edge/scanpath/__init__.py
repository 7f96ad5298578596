"""The scan path: scanner readers -> a bounded queue -> the single writer -> operator feedback."""
