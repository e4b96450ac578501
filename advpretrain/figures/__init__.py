"""Figures, drawn from the workflow's CSV files alone (no model or data needed). Figure ``X`` is
drawn by ``plot_X`` in the module the registry names (``advpretrain.workflow.figures``);
``figure`` is the stage, ``style`` the shared look and the byte-reproducible ``save``. The
modules, by what they draw: pre-trained layers (``pretrained``), robustness (``robustness``),
downstream heads (``downstream``), contrastive pairs (``contrastive``), verdicts, the multiverse
and the budget map (``verdicts``), the studies (``sensitivity``, ``mechanism``), the real images
(``images``); ``run_notebook``
executes the notebooks/ walk-throughs.
"""
