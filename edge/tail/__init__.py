"""The reference consumer of the events nodes publish (``edge tail``)."""
