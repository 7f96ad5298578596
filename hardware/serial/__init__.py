"""Serial and network scanners: byte framing and the pyserial reader."""
