"""The one attack core, below the model (whose training adversary uses it) and the evaluation:
projection onto the ball, random start, steepest step, the PGD loop, FGM/PGD and the image
branch's PGD (``pgd``). It imports nothing of the package."""
