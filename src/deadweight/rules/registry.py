"""Every rule, in catalog order. The audit runs what the configuration enables."""

from __future__ import annotations

from deadweight.rules.base import Rule
from deadweight.rules.dw70x_memory import LooseMemoryLimit, TightMemoryLimit
from deadweight.rules.dw101_cuda_torch import CudaTorchOnCpu
from deadweight.rules.dw102_gpu_variants import GpuOrGuiVariant
from deadweight.rules.dw201_unused_declared import UnusedDeclared
from deadweight.rules.dw202_undeclared_unused import UndeclaredUnused
from deadweight.rules.dw301_toolchain import BuildToolchain
from deadweight.rules.dw302_caches import PackageManagerCache
from deadweight.rules.dw303_shadowed import ShadowedBytes
from deadweight.rules.dw304_recommends import AptRecommends
from deadweight.rules.dw401_context import BuildContextClutter
from deadweight.rules.dw501_unpinned import UnpinnedRequirement
from deadweight.rules.dw601_base_image import HeavierBase
from deadweight.rules.dw801_tests_docs import TestsAndDocs

ALL_RULES: tuple[Rule, ...] = (
    CudaTorchOnCpu(),
    GpuOrGuiVariant(),
    UnusedDeclared(),
    UndeclaredUnused(),
    BuildToolchain(),
    PackageManagerCache(),
    ShadowedBytes(),
    AptRecommends(),
    BuildContextClutter(),
    UnpinnedRequirement(),
    HeavierBase(),
    TightMemoryLimit(),
    LooseMemoryLimit(),
    TestsAndDocs(),
)
