"""Figures, drawn from the workflow's CSV files alone (no model or data needed). Figure ``X`` is
drawn by ``plot_X`` in the module the registry names (``advpretrain.workflow.figures``);
``figure`` is the stage, ``style`` the shared look and the byte-reproducible ``save``.
"""
