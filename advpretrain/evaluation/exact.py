"""Exact robustness of single points by mixed-integer programming: robust, broken or undecided.

For a piecewise-linear activation (gate, relu, symmetric relu) every node is linear on each of a
few closed pieces of its pre-activation v (``activation_pieces``); the margin y a^T sigma(W (z +
delta)) is linear on each activation pattern. The minimum of the margin over the ball is then a
mixed-integer program: one binary per piece of every node whose pre-activation interval over the
ball (``bounds.preactivation_bounds``) meets more than one piece, in the disaggregated ("convex
hull") formulation (v = sum_k v_k, L_k b_k <= v_k <= U_k b_k, sum_k b_k = 1, output sum_k
slope_k v_k + intercept_k b_k), whose LP relaxation is each node's convex hull, so no big M beyond
the exact interval is needed. Stable nodes are linear. l_inf: a MILP solved by HiGHS
(scipy.optimize.milp); l2: the ball as one convex quadratic constraint, a mixed-integer QCP
solved by SCIP (pyscipopt). The inputs are unbounded (synthetic data): no input range. Heads
only (supervised and downstream networks); a contrastive pair score is a product of two nodes,
not linear on a pattern.

Soundness for the networks as they compute (float32), as in ``bounds``:
- robust: the solver proves that no point has margin <= ``_robust_tolerance`` (the program with
  that cut is infeasible) over the CLOSURE of every piece (the gate's dead zone |v| <= e and its
  live parts |v| >= e all closed, so a jump is never assumed away), with each pre-activation free
  within the float32 rounding of W (z + delta) around its exact value. The tolerance is the
  rounding of the final float32 sum plus the solvers' feasibility and integrality tolerances
  (``SOLVER_TOLERANCE`` times sum_h |a_h| max |h_h|). The cut prunes every branch whose
  relaxation lies above it, and the solvers stop at the first point under it: deciding needs
  no optimum, which made the solves about 100 times faster than minimising;
- broken: a perturbation inside the ball (checked in float64 on the float32 input actually fed)
  at which every pre-activation lies at least ``JUMP_TOLERANCE`` (and twice its rounding) from
  every jump of the activation, and where the REAL float32 forward pass gives y f <= 0, the
  paper's accuracy counting margin > 0 as correct. A solver point that fails this (a solver may
  sit on a jump within its tolerance, or its first point lie barely under the cut) is not
  accepted; further solves then look for a point of margin <= -tolerance, then <= 0, over the
  pieces shrunk away from the jumps by the jump tolerance, in a ball shrunk by ``BALL_SHRINK``;
- undecided: neither within the limits: about ``time_limit`` seconds a point, and with
  ``node_limit`` at most that many branch-and-bound nodes a solve (of at most three). Within the
  node limit alone a decision is deterministic (HiGHS and SCIP are); one that the time limit
  ends depends on the machine's speed.

Cheap decisions first: a point the networks get wrong unperturbed is broken (method "clean"), one
the interval bound certifies is robust ("interval"), an attack's perturbation that passes the
counterexample checks breaks it ("attack"), and over ascending budgets a point broken at a
smaller budget is broken by the same perturbation ("smaller_budget").
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyscipopt
import torch
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from advpretrain.attack.pgd import NORMS, check_norm, project
from advpretrain.core.activations import THRESHOLDED
from advpretrain.core.progress import Progress
from advpretrain.core.seeding import derive_seed, numpy_rng
from advpretrain.evaluation.bounds import head_margin_bound, preactivation_bounds
from advpretrain.model.networks import TwoLayerNets

OUTCOMES = ("robust", "broken", "undecided")
SOLVER_TOLERANCE = 1e-5  # relative to the head's largest output: covers HiGHS's and SCIP's 1e-6
JUMP_TOLERANCE = 1e-5  # a counterexample's pre-activations keep this far from every jump
BALL_SHRINK = 1e-6  # a counterexample lies in the ball of radius eps (1 - BALL_SHRINK)
DEFAULT_TIME_LIMIT = 10.0


@dataclass(frozen=True)
class Piece:
    """sigma(v) = slope v + intercept for v in the closed interval [lower, upper]."""

    lower: float
    upper: float
    slope: float
    intercept: float


def activation_pieces(activation: str, threshold: float) -> tuple[tuple[Piece, ...],
                                                                   tuple[float, ...]]:
    """The closed linear pieces covering the real line, and the jumps (where sigma is
    discontinuous): the gate's at +-e, none for relu and the symmetric relu."""
    e, inf = float(threshold), math.inf
    if activation not in THRESHOLDED:
        raise ValueError(f"exact verification needs a piecewise-linear activation "
                         f"({', '.join(THRESHOLDED)}), got {activation!r}")
    if activation == "relu":
        return (Piece(-inf, e, 0.0, 0.0), Piece(e, inf, 1.0, -e)), ()
    if e <= 0:  # the gate and the symmetric relu are the identity
        return (Piece(-inf, inf, 1.0, 0.0),), ()
    if activation == "gate":
        return (Piece(-inf, -e, 1.0, 0.0), Piece(-e, e, 0.0, 0.0), Piece(e, inf, 1.0, 0.0)), (-e, e)
    return (Piece(-inf, -e, 1.0, e), Piece(-e, e, 0.0, 0.0), Piece(e, inf, 1.0, -e)), ()


@dataclass
class Decision:
    """One point at one budget. ``bound``: a lower bound on the margin over the ball where one was
    proved (the interval bound, or the solver's tolerance; NaN otherwise); ``margin``: the
    float32 margin at ``delta``, the counterexample of a broken point (NaN otherwise);
    ``unstable``: nodes whose interval meets more than one piece."""

    outcome: str
    method: str
    bound: float
    margin: float
    delta: np.ndarray | None
    unstable: int
    seconds: float


# ---------------------------------------------------------------- one network, one point


@dataclass
class _Network:
    """Network n of a stack, in float64, with what the decisions of its points share: per node
    (one threshold for all in the absolute mode, e ||w_h|| in the relative one) its threshold,
    pieces and jumps."""

    nets: TwoLayerNets
    index: int
    weight: np.ndarray  # (H, d)
    head: np.ndarray  # (H,)
    threshold: np.ndarray  # (H,), as the networks hold it in their dtype
    pieces: tuple[tuple[Piece, ...], ...]  # (H,)
    jumps: tuple[tuple[float, ...], ...]  # (H,)

    @classmethod
    def of(cls, nets: TwoLayerNets, index: int) -> _Network:
        held = nets.held_threshold()
        threshold = (np.full(nets.weight.shape[1], held) if isinstance(held, float)
                     else held[index, 0].cpu().numpy())
        nodes = [activation_pieces(nets.activation, float(e)) for e in threshold]
        return cls(nets, index, nets.weight[index].detach().double().cpu().numpy(),
                   nets.head[index].detach().double().cpu().numpy(), threshold,
                   tuple(pieces for pieces, _ in nodes), tuple(jumps for _, jumps in nodes))

    def margin32(self, x: np.ndarray, label: float) -> float:
        """y f(x) by the networks' own forward pass in their dtype (x already in that dtype)."""
        stack = torch.zeros(self.nets.weight.shape[0], 1, x.size, dtype=self.nets.weight.dtype,
                            device=self.nets.weight.device)
        stack[self.index, 0] = torch.as_tensor(x, device=stack.device)
        with torch.no_grad():
            return float(label * self.nets(stack)[self.index, 0])


def _intervals(net: _Network, z: torch.Tensor, eps: float, norm: str):
    """Exact-plus-rounding pre-activation interval (H,) each, the exact centre W z and the
    rounding half-width of W (z + delta), all float64."""
    lower, upper = preactivation_bounds(net.nets, z.reshape(1, 1, -1).expand(
        net.nets.weight.shape[0], 1, -1), eps, norm)
    lower, upper = lower[net.index, 0].numpy(), upper[net.index, 0].numpy()
    centre = net.weight @ z.double().cpu().numpy()
    dual = np.linalg.norm(net.weight, axis=1) if norm == "l2" else np.abs(net.weight).sum(1)
    rounding = np.maximum((upper - lower) / 2 - eps * dual, 0.0)
    return lower, upper, centre, rounding


def _node_pieces(net: _Network, node: int, low: float, high: float, shrink: float
                 ) -> list[Piece]:
    """The pieces of ``node`` met by [low, high], clipped to it; with ``shrink`` > 0 every piece
    keeps that far from the jumps (the strict search), and pieces left empty are dropped."""
    kept, jumps = [], net.jumps[node]
    for piece in net.pieces[node]:
        start = piece.lower + shrink if piece.lower in jumps else piece.lower
        end = piece.upper - shrink if piece.upper in jumps else piece.upper
        start, end = max(start, low), min(end, high)
        if start <= end:
            kept.append(Piece(start, end, piece.slope, piece.intercept))
    return kept


@dataclass
class _Program:
    """min objective . x + constant s.t. rows: row_low <= A x <= row_high, variable bounds,
    integrality; x[:d] is delta. ``feasible`` False: some node has no piece left."""

    objective: np.ndarray
    constant: float
    matrix: sparse.csr_array
    row_low: np.ndarray
    row_high: np.ndarray
    var_low: np.ndarray
    var_high: np.ndarray
    integer: np.ndarray
    feasible: bool


def _program(net: _Network, label: float, radius: float, lower, upper, centre, band,
             shrink: float, cut: float) -> _Program:
    """The margin's minimum over the ball of ``radius`` (the box |delta_i| <= radius; the l2
    solver adds the ball itself) with every v_h within ``band`` of w_h . delta + c_h, among the
    points whose margin is at most ``cut``: the program is infeasible exactly when the minimum
    exceeds the cut, which prunes every branch whose relaxation is above it."""
    n_hidden, d = net.weight.shape
    objective, low, high, integer = [0.0] * d, [-radius] * d, [radius] * d, [0] * d
    rows, cols, values, row_low, row_high = [], [], [], [], []
    constant, feasible = 0.0, True

    def variable(lo, hi, cost, is_integer=0):
        objective.append(cost)
        low.append(lo)
        high.append(hi)
        integer.append(is_integer)
        return len(objective) - 1

    def constraint(terms, lo, hi):
        row = len(row_low)
        for col, value in terms:
            rows.append(row)
            cols.append(col)
            values.append(value)
        row_low.append(lo)
        row_high.append(hi)

    for h in range(n_hidden):
        coefficient = label * net.head[h]
        pieces = _node_pieces(net, h, lower[h], upper[h], shrink)
        if not pieces:
            feasible = False
            break
        v = variable(pieces[0].lower, pieces[-1].upper, 0.0)
        # v_h - w_h . delta in [c_h - band_h, c_h + band_h]
        constraint([(v, 1.0)] + [(i, -net.weight[h, i]) for i in range(d)],
                   centre[h] - band[h], centre[h] + band[h])
        if len(pieces) == 1:
            objective[v] = coefficient * pieces[0].slope
            constant += coefficient * pieces[0].intercept
            continue
        parts, choices = [], []
        for piece in pieces:
            part = variable(min(piece.lower, 0.0), max(piece.upper, 0.0),
                            coefficient * piece.slope)
            choice = variable(0.0, 1.0, coefficient * piece.intercept, 1)
            constraint([(part, 1.0), (choice, -piece.lower)], 0.0, math.inf)
            constraint([(part, 1.0), (choice, -piece.upper)], -math.inf, 0.0)
            parts.append(part)
            choices.append(choice)
        constraint([(c, 1.0) for c in choices], 1.0, 1.0)
        constraint([(v, 1.0)] + [(p, -1.0) for p in parts], 0.0, 0.0)
    constraint([(col, cost) for col, cost in enumerate(objective) if cost != 0], -math.inf,
               cut - constant)
    matrix = sparse.csr_array((values, (rows, cols)), shape=(len(row_low), len(objective)))
    return _Program(np.array(objective), constant, matrix, np.array(row_low),
                    np.array(row_high), np.array(low), np.array(high), np.array(integer),
                    feasible)


@dataclass
class _Solved:
    infeasible: bool  # proved: no point of the program has margin <= its cut
    delta: np.ndarray | None  # a point's delta (margin <= the cut), if one was found


def _solve_linf(program: _Program, d: int, time_limit: float, node_limit: int | None
                ) -> _Solved:
    """HiGHS, stopping at the first point under the cut (a huge relative gap ends the search
    there)."""
    options = {"time_limit": max(time_limit, 0.01), "mip_rel_gap": 1e30}
    if node_limit is not None:
        options["node_limit"] = int(node_limit)
    result = milp(program.objective, integrality=program.integer,
                  bounds=Bounds(program.var_low, program.var_high),
                  constraints=LinearConstraint(program.matrix, program.row_low, program.row_high),
                  options=options)
    return _Solved(result.status == 2, None if result.x is None else np.asarray(result.x[:d]))


def _solve_l2(program: _Program, d: int, radius: float, time_limit: float,
              node_limit: int | None) -> _Solved:
    """SCIP, stopping at the first point under the cut."""
    model = pyscipopt.Model()
    model.hideOutput()
    model.setParam("limits/time", max(time_limit, 0.01))
    model.setParam("limits/solutions", 1)
    if node_limit is not None:
        model.setParam("limits/nodes", int(node_limit))
    x = [model.addVar(lb=lo, ub=hi, obj=cost, vtype="B" if is_integer else "C")
         for lo, hi, cost, is_integer in zip(program.var_low, program.var_high,
                                             program.objective, program.integer)]
    matrix = program.matrix.tocsr()
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        expression = pyscipopt.quicksum(value * x[col] for col, value in
                                        zip(matrix.indices[start:end], matrix.data[start:end]))
        lo, hi = program.row_low[row], program.row_high[row]
        if lo == hi:
            model.addCons(expression == lo)
        else:
            if np.isfinite(lo):
                model.addCons(expression >= lo)
            if np.isfinite(hi):
                model.addCons(expression <= hi)
    model.addCons(pyscipopt.quicksum(x[i] * x[i] for i in range(d)) <= radius**2)
    model.optimize()
    delta = None
    if model.getNSols() > 0:
        best = model.getBestSol()
        delta = np.array([model.getSolVal(best, x[i]) for i in range(d)])
    return _Solved(model.getStatus() == "infeasible", delta)


def _counterexample(net: _Network, z: torch.Tensor, label: float, eps: float, norm: str,
                    delta: np.ndarray | None,
                    rounding: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(delta actually fed, float32 margin) if ``delta`` is an accepted counterexample."""
    if delta is None:
        return None
    dtype = net.nets.weight.dtype
    z64 = z.double().cpu().numpy()
    inside = project(torch.as_tensor(delta, dtype=torch.float64), eps * (1 - BALL_SHRINK), norm,
                     0).numpy()
    fed = torch.as_tensor(z64 + inside).to(dtype).numpy()
    actual = fed.astype(np.float64) - z.to(dtype).double().cpu().numpy()
    size = np.abs(actual).max() if norm == "linf" else np.linalg.norm(actual)
    if size > eps:
        return None
    v = net.weight @ fed.astype(np.float64)
    clearance = np.maximum(JUMP_TOLERANCE, 2 * rounding)
    if any(abs(v[h] - jump) < clearance[h] for h, jumps in enumerate(net.jumps)
           for jump in jumps):
        return None
    margin = net.margin32(fed, label)
    return (actual, margin) if margin <= 0 else None


def _robust_tolerance(net: _Network, lower: np.ndarray, upper: np.ndarray) -> float:
    """What a proved minimum must exceed: the float32 rounding of the head's sum (as in
    ``bounds.head_margin_bound``) plus ``SOLVER_TOLERANCE``, both times sum_h |a_h| max|h_h|."""
    largest = np.maximum(np.abs(lower), np.abs(upper)) + net.threshold
    scale = float((np.abs(net.head) * largest).sum())
    rounding = (net.weight.shape[0] + 2) * torch.finfo(net.nets.weight.dtype).eps
    return (rounding + SOLVER_TOLERANCE) * scale


def decide(nets: TwoLayerNets, network: int, z: torch.Tensor, label: float, eps: float,
           norm: str, time_limit: float = DEFAULT_TIME_LIMIT,
           attacked: torch.Tensor | None = None, node_limit: int | None = None) -> Decision:
    """Decide whether any delta with ||delta||_norm <= eps makes network ``network`` of ``nets``
    misclassify z (d,) with label +-1 (see the module docstring); at most about ``time_limit``
    seconds of solver time and, with ``node_limit``, that many nodes a solve. ``attacked``: an
    attack's perturbed input (d,), accepted as the counterexample (method "attack") when it
    passes the same checks as a solver's."""
    check_norm(norm)
    return _decide(_Network.of(nets, network), z, float(label), float(eps), norm, time_limit,
                   attacked, node_limit)


def _decide(net: _Network, z: torch.Tensor, label: float, eps: float, norm: str,
            time_limit: float, attacked: torch.Tensor | None,
            node_limit: int | None = None) -> Decision:
    started = time.perf_counter()

    def done(outcome, method, bound=math.nan, margin=math.nan, delta=None, unstable=0):
        return Decision(outcome, method, bound, margin, delta, unstable,
                        time.perf_counter() - started)

    clean = net.margin32(z.to(net.nets.weight.dtype).cpu().numpy(), label)
    if clean <= 0:
        return done("broken", "clean", margin=clean, delta=np.zeros(z.numel()))
    stack = z.reshape(1, 1, -1).expand(net.nets.weight.shape[0], 1, -1)
    labels = torch.full(stack.shape[:2], label, dtype=stack.dtype)
    certified = float(head_margin_bound(net.nets, stack, labels, eps, norm)[net.index, 0])
    lower, upper, centre, rounding = _intervals(net, z, eps, norm)
    unstable = sum(len(_node_pieces(net, h, lo, hi, 0.0)) > 1
                   for h, (lo, hi) in enumerate(zip(lower, upper)))
    if certified > 0:
        return done("robust", "interval", bound=certified, unstable=unstable)
    if attacked is not None:
        found = _counterexample(net, z, label, eps, norm,
                                (attacked.double() - z.double()).cpu().numpy(), rounding)
        if found is not None:
            return done("broken", "attack", margin=found[1], delta=found[0], unstable=unstable)
    d = z.numel()

    tolerance = _robust_tolerance(net, lower, upper)

    def solve(program, radius, seconds):
        if norm == "linf":
            return _solve_linf(program, d, seconds, node_limit)
        return _solve_l2(program, d, radius, seconds, node_limit)

    # The closure, each v_h free within its float32 rounding: sound for "robust".
    closure = _program(net, label, eps, lower, upper, centre, rounding, 0.0, tolerance)
    first = solve(closure, eps, 0.75 * time_limit)
    method = "milp" if norm == "linf" else "miqcp"
    if first.infeasible:
        return done("robust", method, bound=tolerance, unstable=unstable)
    found = _counterexample(net, z, label, eps, norm, first.delta, rounding)
    # The first point may lie barely under the cut, or on a jump: search the pieces shrunk away
    # from the jumps, in a slightly smaller ball, for a point of margin <= -tolerance (clear of
    # the float32 rounding), then <= 0 (a gate's dead zone gives exactly 0).
    radius = eps * (1 - 2 * BALL_SHRINK)
    shrink = float(np.maximum(JUMP_TOLERANCE, 2 * rounding).max()) * 2
    for cut in (-tolerance, 0.0):
        if found is not None:
            break
        strict = _program(net, label, radius, lower, upper, centre, np.zeros_like(rounding),
                          shrink, cut)
        remaining = time_limit - (time.perf_counter() - started)
        if not strict.feasible or remaining <= 0:
            break
        found = _counterexample(net, z, label, eps, norm,
                                solve(strict, radius, remaining).delta, rounding)
    if found is not None:
        return done("broken", method, margin=found[1], delta=found[0], unstable=unstable)
    return done("undecided", method, unstable=unstable)


# ---------------------------------------------------------------- a subsample of every network


def subsample_indices(n_points: int, sample_size: int, base_seed: int,
                      *seed_parts) -> np.ndarray:
    """A fixed random subsample (sorted, without replacement) of min(sample_size, n_points) of
    the test points, the same for every network of a stack (the variants of a seed share its
    data), seeded by ``derive_seed(base_seed, "exact_subsample", *seed_parts)``."""
    rng = numpy_rng(derive_seed(base_seed, "exact_subsample", *seed_parts))
    return np.sort(rng.choice(n_points, size=min(sample_size, n_points), replace=False))


def verify_subsample(nets: TwoLayerNets, z: torch.Tensor, labels: torch.Tensor,
                     budgets: Mapping[str, Sequence[float]], *, sample_size: int,
                     base_seed: int, seed_parts: Sequence = (),
                     time_limit: float = DEFAULT_TIME_LIMIT,
                     attacked: Mapping[tuple[str, float], torch.Tensor] | None = None,
                     node_limit: int | None = None) -> pd.DataFrame:
    """Decide a fixed subsample (``subsample_indices``) of every network's test points z (N, B, d)
    with labels (N, B) at every budget of ``budgets`` ({"linf": [0.02, ...], "l2": [...]}).
    ``attacked``: for some (norm, eps), perturbed inputs (N, B, d) an attack found, e.g.
    ``ensemble.worst_case(...).result.inputs[0]``; each is tried as its point's counterexample
    before the solver, which is slower at breaking points than at proving them robust.

    Returns one row per network, norm, budget and point: network, norm, eps, point (index into
    the test points), outcome, method, bound, margin, unstable, seconds (``Decision``)."""
    unknown = set(budgets) - set(NORMS)
    if unknown:
        raise ValueError(f"unknown norms {sorted(unknown)}; choose from {NORMS}")
    points = subsample_indices(z.shape[1], sample_size, base_seed, *seed_parts)
    rows = []
    progress = Progress("exact", z.shape[0], unit="networks")
    for network in range(z.shape[0]):
        if network:
            progress.report(network, undecided=sum(r["outcome"] == "undecided" for r in rows))
        net = _Network.of(nets, network)
        for norm, norm_budgets in budgets.items():
            for point in points:
                previous = None  # a counterexample at a smaller budget breaks larger ones too
                for eps in sorted(float(e) for e in norm_budgets):
                    if previous is not None:
                        decision = Decision("broken", "smaller_budget", math.nan,
                                            previous.margin, previous.delta, previous.unstable,
                                            0.0)
                    else:
                        inputs = (attacked or {}).get((norm, eps))
                        decision = _decide(net, z[network, point], float(labels[network, point]),
                                           eps, norm, time_limit,
                                           None if inputs is None else inputs[network, point],
                                           node_limit)
                    if decision.outcome == "broken":
                        previous = decision
                    rows.append({"network": network, "norm": norm, "eps": eps,
                                 "point": int(point), "outcome": decision.outcome,
                                 "method": decision.method, "bound": decision.bound,
                                 "margin": decision.margin, "unstable": decision.unstable,
                                 "seconds": decision.seconds})
    return pd.DataFrame(rows, columns=["network", "norm", "eps", "point", "outcome", "method",
                                       "bound", "margin", "unstable", "seconds"])


def summarise(decisions: pd.DataFrame) -> pd.DataFrame:
    """Per network, norm and budget: the number of points, the robust / broken / undecided counts,
    the exact robust accuracy's bounds (``lower`` the robust share, ``upper`` the robust and
    undecided share, ``width`` their difference, the undecided share) and the mean and largest
    decision time."""
    keys = ["network", "norm", "eps"]
    counts = (pd.crosstab([decisions[k] for k in keys], decisions["outcome"])
              .reindex(columns=list(OUTCOMES), fill_value=0))
    timing = decisions.groupby(keys)["seconds"].agg(points="size", mean_seconds="mean",
                                                    max_seconds="max")
    table = timing.join(counts).reset_index()
    table["lower"] = table["robust"] / table["points"]
    table["upper"] = (table["robust"] + table["undecided"]) / table["points"]
    table["width"] = table["upper"] - table["lower"]
    return table[[*keys, "points", *OUTCOMES, "lower", "upper", "width", "mean_seconds",
                  "max_seconds"]]
