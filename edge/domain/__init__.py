"""The inventory domain: pure Python, standard library only.

Every inventory rule lives here: quantities, items, BOM explosion, scan
interpretation, stock and reorder policy, event payloads. Nothing in this
package does I/O or imports a third-party library; adapters call into it.
"""
