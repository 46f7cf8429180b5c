"""Training recipes for her2net (Lightning). Not imported by the inference path.

Run from the repository root: ``python -m train fit --config configs/synthetic.yaml``.
"""
