"""`python -m es_rag` runs the es-rag command line."""

from es_rag.cli import main

main()
