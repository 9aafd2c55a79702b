"""Decomposition of a whole series: PCA (rank estimate), target transform, MCR-ALS.

Conventions follow Malinowski's factor analysis as used for XAS: the PCA is not
mean-centred (abstract components span the spectra themselves), the real error RE,
the indicator function IND and the F-test on reduced eigenvalues estimate the
number of species, and SPOIL grades how well a candidate spectrum lies in the
span of the first n components.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from speciate._arrays import readonly_copy
from speciate.errors import FitError, ValidationError
from speciate.fit.design import as_fit_data, as_standards, fit_window
from speciate.fit.lcf import solve_plain
from speciate.provenance import records_provenance
from speciate.series import Series

__all__ = ["MCRResult", "PCAResult", "TargetResult", "mcr_als", "pca", "target_transform"]


def _matrix(series: Any, array: str, e_range, relative_to: str, e0):
    data = as_fit_data(series, array)
    if e_range is None:
        mask = np.ones(data.energy.size, bool)
    else:
        mask = fit_window(data, e_range, relative_to, e0)[0]
    values = data.values[:, mask]
    if not np.isfinite(values).all():
        rows = np.nonzero(~np.isfinite(values).all(axis=1))[0]
        raise FitError(f"spectra {rows[:10].tolist()} have NaN/inf in the energy range")
    return data, data.energy[mask], values


@dataclass(frozen=True, eq=False)
class PCAResult:
    """Principal components of a series (not mean-centred).

    Attributes
    ----------
    energy : (n_energy,) eV
    singular_values : (s,) with s = min(n_spectra, n_energy)
    eigenvalues : (s,) squared singular values
    explained : (s,) fraction of the total sum of squares per component (scree)
    components : (s, n_energy) orthonormal abstract spectra
    scores : (n_spectra, s) ``U·S``: data ≈ scores[:, :n] @ components[:n]
    real_error : (s - 1,) Malinowski RE(n) for n = 1..s-1 (units of the data)
    ind : (s - 1,) indicator function IND(n) = RE(n) / (s - n)²
    f_pvalue : (s - 1,) p-value of the F-test on the reduced eigenvalue of factor n
    rank : int, number of components at the minimum of IND
    rank_f : int, number of leading factors significant at ``alpha`` in the F-test
    labels : (n_spectra,)
    provenance : the call
    """

    energy: np.ndarray
    singular_values: np.ndarray
    eigenvalues: np.ndarray
    explained: np.ndarray
    components: np.ndarray
    scores: np.ndarray
    real_error: np.ndarray
    ind: np.ndarray
    f_pvalue: np.ndarray
    rank: int
    rank_f: int
    labels: tuple[str, ...]
    provenance: Mapping[str, Any]

    def reconstruct(self, n_components: int | None = None) -> np.ndarray:
        """Data rebuilt from the first ``n_components`` (default `rank`), (n_spectra, n_energy)."""
        n = self.rank if n_components is None else int(n_components)
        return self.scores[:, :n] @ self.components[:n]

    def report(self, n_show: int = 8) -> str:
        """Scree table: eigenvalue, explained fraction, RE, IND and F-test p-value."""
        lines = [f"[[PCA]] rank (IND) = {self.rank}, rank (F-test) = {self.rank_f}",
                 "  n   eigenvalue   explained   RE          IND         p(F)"]  # fmt: skip
        for i in range(min(n_show, self.real_error.size)):
            lines.append(
                f"  {i + 1:<3d} {self.eigenvalues[i]:11.4g}  {self.explained[i]:9.5f}   "
                f"{self.real_error[i]:.4e}  {self.ind[i]:.4e}  {self.f_pvalue[i]:.3g}"
            )
        return "\n".join(lines)


@records_provenance
def pca(
    series: Any,
    *,
    array: str = "norm",
    e_range: tuple[float, float] | None = None,
    relative_to: str = "e0",
    e0: float | None = None,
    alpha: float = 0.05,
) -> PCAResult:
    """SVD of the whole series with Malinowski's rank estimates.

    Parameters
    ----------
    series
        `NormResult` or normalized `Series`, (n_spectra, n_energy).
    array
        Array of a `NormResult` to use (``"norm"``, ``"flat"``, ``"mu"``).
    e_range, relative_to, e0
        Optional energy window, as in `lcf`; default the whole grid.
    alpha
        Significance level of the F-test.

    Returns
    -------
    PCAResult
    """
    data, energy, d = _matrix(series, array, e_range, relative_to, e0)
    r, c = max(d.shape), min(d.shape)
    if c < 3:
        raise FitError(f"PCA needs at least 3 spectra and 3 energy points; got {d.shape}")
    u, s, vt = np.linalg.svd(d, full_matrices=False)
    lam = s**2
    n = np.arange(1, c)
    tail = np.cumsum(lam[::-1])[::-1]  # tail[j] = Σ_{i>=j} λ_i
    re = np.sqrt(tail[n] / (r * (c - n)))
    ind = re / (c - n) ** 2
    # F-test on reduced eigenvalues REV_j = λ_j / ((r - j + 1)(c - j + 1)), Malinowski 1988
    j = np.arange(1, c + 1)
    weight = (r - j + 1.0) * (c - j + 1.0)
    w_tail = np.cumsum(weight[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (w_tail[n] * lam[n - 1]) / (weight[n - 1] * tail[n])
    pval = stats.f.sf(f, 1, c - n)
    not_sig = np.nonzero(~(pval < alpha))[0]
    rank_f = int(not_sig[0]) if not_sig.size else int(c - 1)
    provenance: dict[str, Any] = {}
    return PCAResult(
        energy=readonly_copy(energy),
        singular_values=readonly_copy(s),
        eigenvalues=readonly_copy(lam),
        explained=readonly_copy(lam / lam.sum()),
        components=readonly_copy(vt),
        scores=readonly_copy(u * s),
        real_error=readonly_copy(re),
        ind=readonly_copy(ind),
        f_pvalue=readonly_copy(pval),
        rank=int(np.argmin(ind) + 1),
        rank_f=rank_f,
        labels=data.labels,
        provenance=provenance,
    )


@dataclass(frozen=True, eq=False)
class TargetResult:
    """Target transform of candidate spectra onto the first n PCA components.

    Attributes
    ----------
    names : (n_candidates,)
    n_components : int
    projected : (n_candidates, n_energy) the candidates rebuilt from the components
    residual : (n_candidates, n_energy) candidate − projected
    relative_residual : (n_candidates,) ||residual|| / ||candidate||
    aet, rep, ret : (n_candidates,) apparent error in target, real error in the predicted
        target (data noise carried through the transform), real error in the target,
        all RMS per point in data units
    spoil : (n_candidates,) RET / REP: < 3 good, 3–6 acceptable, > 6 rejected
    order : (n_candidates,) candidate indices, best (lowest SPOIL) first
    provenance
        The call that made it (see `speciate.provenance.records_provenance`).
    """

    names: tuple[str, ...]
    n_components: int
    projected: np.ndarray
    residual: np.ndarray
    relative_residual: np.ndarray
    aet: np.ndarray
    rep: np.ndarray
    ret: np.ndarray
    spoil: np.ndarray
    order: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def report(self) -> str:
        """Candidates ranked by SPOIL."""
        lines = [f"[[Target transform]] {self.n_components} components",
                 "  candidate                 SPOIL    rel. residual"]  # fmt: skip
        for i in self.order:
            lines.append(
                f"  {self.names[i]:<24s} {self.spoil[i]:7.2f}   {self.relative_residual[i]:.4f}"
            )
        return "\n".join(lines)


@records_provenance
def target_transform(
    pca_result: PCAResult, candidates: Any, n_components: int | None = None, array: str = "norm"
) -> TargetResult:
    """Test candidate spectra against the span of the first PCA components (SPOIL).

    Parameters
    ----------
    pca_result
        From `pca`.
    candidates
        `NormResult`/`Series` (or a sequence) of candidate spectra covering the PCA grid;
        interpolated onto it with a cubic spline.
    n_components
        Components to use; default ``pca_result.rank``.
    array
        Array of a candidate `NormResult` to use.

    Returns
    -------
    TargetResult
    """
    n = pca_result.rank if n_components is None else int(n_components)
    s = pca_result.singular_values.size
    if not 1 <= n < s:
        raise ValidationError(f"n_components must be in 1..{s - 1}; got {n}")
    stds = as_standards(candidates, array)
    energy = pca_result.energy
    short = [nm for nm, e in zip(stds.names, stds.energies) if e[0] > energy[0] or
             e[-1] < energy[-1]]  # fmt: skip
    if short:
        raise FitError(
            f"candidates must cover the PCA grid {energy[0]:.2f}..{energy[-1]:.2f} eV; "
            f"these do not: {short}"
        )
    t = np.stack([sp(energy) for sp in stds.splines(energy[0], energy[-1])])
    v = pca_result.components[:n]
    a = t @ v.T  # (n_c, n)
    projected = a @ v
    residual = t - projected
    n_e = energy.size
    aet = np.sqrt((residual**2).sum(axis=1) / (n_e - n))
    rep = pca_result.real_error[n - 1] * np.linalg.norm(a / pca_result.singular_values[:n], axis=1)
    ret = np.sqrt(np.clip(aet**2 - rep**2, 0.0, None))
    spoil = ret / np.maximum(rep, 1e-300)
    rel = np.linalg.norm(residual, axis=1) / np.linalg.norm(t, axis=1)
    order = np.lexsort((rel, spoil))
    return TargetResult(
        names=stds.names,
        n_components=n,
        projected=readonly_copy(projected),
        residual=readonly_copy(residual),
        relative_residual=readonly_copy(rel),
        aet=readonly_copy(aet),
        rep=readonly_copy(rep),
        ret=readonly_copy(ret),
        spoil=readonly_copy(spoil),
        order=readonly_copy(order, int),
    )


@dataclass(frozen=True, eq=False)
class MCRResult:
    """MCR-ALS: ``data ≈ concentrations @ spectra``.

    Attributes
    ----------
    energy : (n_energy,) eV
    concentrations : (n_spectra, n_components) profiles over the series
    spectra : (n_components, n_energy) component spectra
    fit, residual : (n_spectra, n_energy)
    lack_of_fit : float, 100·||residual|| / ||data|| (%)
    r_factor : (n_spectra,) Σ residual² / Σ data²
    fixed : (n_components,) bool, spectra pinned to their initial value
    n_iter : int; converged : bool
    labels, time : carried from the data
    provenance : the call
    """

    energy: np.ndarray
    concentrations: np.ndarray
    spectra: np.ndarray
    fit: np.ndarray
    residual: np.ndarray
    lack_of_fit: float
    r_factor: np.ndarray
    fixed: np.ndarray
    n_iter: int
    converged: bool
    labels: tuple[str, ...]
    time: np.ndarray | None
    provenance: Mapping[str, Any]

    def to_series(self) -> Series:
        """The component spectra as a `Series` (labels ``mcr_0``...), e.g. to use as
        standards in `lcf`."""
        return Series(
            self.energy,
            self.spectra,
            labels=[f"mcr_{i}" for i in range(self.spectra.shape[0])],  # a few components
            coords={"e0": np.full(self.spectra.shape[0], np.nan)},
        )


def _purest(d: np.ndarray, n: int, start: np.ndarray | None = None) -> np.ndarray:
    """Initial spectra: the n most mutually different data rows (greedy: the row with
    the largest residual after projection on the spectra already chosen, beginning with
    ``start`` (m, n_energy) when given)."""
    chosen = [] if start is None else list(start)
    if not chosen:
        chosen.append(d[int(np.argmax(np.linalg.norm(d - d.mean(axis=0), axis=1)))])
    while len(chosen) < n:
        basis = np.linalg.qr(np.array(chosen).T)[0]
        resid = d - (d @ basis) @ basis.T
        chosen.append(d[int(np.argmax(np.linalg.norm(resid, axis=1)))])
    return np.array(chosen, dtype=float)


def _on_grid(spectra: Any, energy: np.ndarray, array: str) -> np.ndarray:
    stds = as_standards(spectra, array)
    short = [nm for nm, e in zip(stds.names, stds.energies) if e[0] > energy[0] or
             e[-1] < energy[-1]]  # fmt: skip
    if short:
        raise FitError(
            f"spectra must cover {energy[0]:.2f}..{energy[-1]:.2f} eV; these do not: {short}"
        )
    return np.stack([sp(energy) for sp in stds.splines(energy[0], energy[-1])])


def _initial(init: Any, fixed: Any, n: int, d: np.ndarray, energy: np.ndarray, array: str):
    """Initial spectra (n, n_energy) and the mask of pinned ones."""
    pinned = np.zeros(n, bool)
    given = None
    if fixed is not None and not _is_indices(fixed):
        given = _on_grid(fixed, energy, array)
        if given.shape[0] > n:
            raise ValidationError(f"{given.shape[0]} fixed spectra for {n} components")
        pinned[: given.shape[0]] = True
    if isinstance(init, str):
        if init != "purest":
            raise ValidationError(f"init must be 'purest', spectra or an array; got {init!r}")
        if fixed is not None and given is None:
            raise ValidationError("fixed indices need their spectra given in init")
        return _purest(d, n, given), pinned
    s0 = np.asarray(init, dtype=float) if isinstance(init, np.ndarray) else _on_grid(
        init, energy, array)  # fmt: skip
    if given is not None:
        s0 = np.concatenate([given, s0])
    if s0.shape != (n, energy.size):
        raise ValidationError(
            f"init (with fixed spectra) must give {n} spectra of {energy.size} points; "
            f"got shape {s0.shape}"
        )
    if fixed is not None and given is None:
        idx = np.asarray(list(fixed), dtype=int)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValidationError(f"fixed indices must be in 0..{n - 1}; got {idx.tolist()}")
        pinned[idx] = True
    return s0, pinned


def _is_indices(fixed: Any) -> bool:
    if isinstance(fixed, (list, tuple)):
        return all(isinstance(i, (int, np.integer)) for i in fixed)
    return isinstance(fixed, np.ndarray) and fixed.dtype.kind in "iu"


@records_provenance
def mcr_als(
    series: Any,
    n_components: int,
    init: Any = "purest",
    *,
    nonneg: bool = True,
    closure: bool = True,
    fixed: Sequence[int] | Any = None,
    array: str = "norm",
    e_range: tuple[float, float] | None = None,
    relative_to: str = "e0",
    e0: float | None = None,
    max_iter: int = 500,
    tol: float = 1e-6,
) -> MCRResult:
    """Multivariate curve resolution by alternating (constrained) least squares.

    Each half-step is an exact batched constrained least-squares solve: the
    concentrations of all spectra at once (non-negative and, with ``closure``, summing
    to one), then the spectra at all energies at once (non-negative with ``nonneg``).

    Parameters
    ----------
    series
        `NormResult` or normalized `Series`, (n_spectra, n_energy).
    n_components
        Number of species (e.g. `PCAResult.rank`).
    init
        ``"purest"`` (the most different data spectra), an array (n_components,
        n_energy), or spectra (`NormResult`/`Series` or a sequence) interpolated onto
        the data grid.
    nonneg
        Concentrations and spectra >= 0.
    closure
        Concentrations of every spectrum sum to one.
    fixed
        Spectra that stay as given (e.g. the pristine material measured separately):
        either indices into ``init``, or spectra (`NormResult`/`Series` or a sequence),
        which become the first components; the others start from ``init``.
    array, e_range, relative_to, e0
        Which array and energy window to use, as in `pca`.
    max_iter, tol
        Stop when the relative change of the residual sum of squares is below ``tol``.

    Returns
    -------
    MCRResult
    """
    data, energy, d = _matrix(series, array, e_range, relative_to, e0)
    n = int(n_components)
    if not 1 <= n <= min(d.shape):
        raise ValidationError(f"n_components must be in 1..{min(d.shape)}; got {n_components}")
    spectra, pinned = _initial(init, fixed, n, d, energy, array)
    free = ~pinned
    lo_c = np.zeros(n) if nonneg else np.full(n, -np.inf)
    hi_c = np.full(n, np.inf)
    lo_s = np.zeros(int(free.sum())) if nonneg else np.full(int(free.sum()), -np.inf)
    hi_s = np.full(int(free.sum()), np.inf)
    previous = np.inf
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - reported in the result
        conc = solve_plain(spectra.T, d, lo_c, hi_c, closure).x
        if free.any():
            target = d - conc[:, pinned] @ spectra[pinned]
            spectra[free] = solve_plain(conc[:, free], target.T, lo_s, hi_s, False).x.T
        sse = float(((d - conc @ spectra) ** 2).sum())
        if abs(previous - sse) <= tol * max(sse, 1e-300):
            converged = True
            break
        previous = sse
    fit = conc @ spectra
    residual = d - fit
    provenance = {
        "fixed": np.nonzero(pinned)[0].tolist(),
        "n_iter": it,
        "converged": converged,
    }
    return MCRResult(
        energy=readonly_copy(energy),
        concentrations=readonly_copy(conc),
        spectra=readonly_copy(spectra),
        fit=readonly_copy(fit),
        residual=readonly_copy(residual),
        lack_of_fit=float(100.0 * np.linalg.norm(residual) / np.linalg.norm(d)),
        r_factor=readonly_copy((residual**2).sum(axis=1) / (d**2).sum(axis=1)),
        fixed=readonly_copy(pinned, bool),
        n_iter=it,
        converged=converged,
        labels=data.labels,
        time=data.time,
        provenance=provenance,
    )
