"""The structure check of the code base (`python -m tests.architecture`): engine import cycles,
handlers reaching for `EngineApp`, engine imports from the rest of es_rag, modules over 500
lines; today's known violations are allowed, each with its reason, in `allowed.txt`."""
