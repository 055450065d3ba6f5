"""The operations a graded child can run, one module per exercise; each module's ``OPS`` maps names to functions.

An operation takes the child's channel (to ask the grader for a proxied
collaborator's answer) and keyword arguments that are plain JSON, builds the
kit's objects from them, calls the graded function, and returns what it
returned (the child describes it). It imports ``llm_client`` only when it runs,
so a broken exercise file fails only the operations that need it.
"""
