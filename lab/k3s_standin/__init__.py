"""The incident lab's k3s stand-in: a Python imitation of the parts of k3s the runbook touches.

See docs/lab-standin.md for what it imitates and what it leaves out.
"""
