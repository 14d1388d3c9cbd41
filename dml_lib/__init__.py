"""The DML neural-network library that generated scripts source(); DML files, no Python."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent
