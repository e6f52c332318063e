"""The PySide6 desktop app: widgets only; all computation lives in core/."""
