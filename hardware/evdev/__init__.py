"""USB HID keyboard-wedge scanners: key maps, the key-event decoder and the evdev reader."""
