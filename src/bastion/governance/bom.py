"""The AI bill of materials: a CycloneDX 1.6 document of what a deployment runs on.

* the models clients may call: each alias as a ``machine-learning-model`` component
  (version: the exact upstream model id; supplier: the provider), with its registry
  version, pin status, region and configuration fingerprint as properties;
* the upstream providers as services (endpoint, region);
* the local artifacts (classifier weights, embedding model, ONNX files) with each
  file's SHA-256, and whether it matches its pin;
* the Python packages Bastion runs on: the closure of ``bastion-gateway``'s
  requirements as installed (name, version, purl, licence where declared).

No key, header or secret is read: model configurations in the registry hold only the
*names* of their keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlsplit

from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.service import Service
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from packaging.requirements import InvalidRequirement, Requirement

from bastion.governance.artifacts import LocalArtifact
from bastion.governance.registry import ModelVersion, is_pinned
from bastion.settings import ModelConfig

__all__ = ["BomInputs", "bom_json", "build_bom", "python_packages"]

DISTRIBUTION = "bastion-gateway"


@dataclass(frozen=True, slots=True)
class BomInputs:
    """``models``: what the gateway serves (registry versions by alias where known)."""

    models: Sequence[ModelConfig]
    versions: dict[str, ModelVersion]
    artifacts: Sequence[LocalArtifact]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_packages(root: str = DISTRIBUTION) -> list[metadata.Distribution]:
    """``root`` and every installed distribution its requirements (without extras, under
    this interpreter's markers) reach, sorted by name."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [root]
    while todo:
        name = _normal(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        for line in dist.requires or ():
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return [seen[n] for n in sorted(seen)]


def _library(dist: metadata.Distribution) -> Component:
    name, version = dist.metadata["Name"], dist.version
    properties = []
    licence = dist.metadata["License-Expression"] or ""
    if licence:
        properties.append(Property(name="bastion:license", value=licence[:200]))
    return Component(
        type=ComponentType.LIBRARY,
        name=name,
        version=version,
        purl=PackageURL(type="pypi", name=_normal(name), version=version),
        bom_ref=f"pypi:{_normal(name)}",
        properties=properties,
    )


def _model(config: ModelConfig, version: ModelVersion | None) -> Component:
    properties = [
        Property(name="bastion:provider", value=config.provider),
        Property(name="bastion:pinned", value=str(is_pinned(config.target_model)).lower()),
        Property(name="bastion:region", value=config.region or "unspecified"),
        Property(name="bastion:endpoint", value=config.base_url),
    ]
    if version is not None:
        properties += [
            Property(name="bastion:registry_version", value=str(version.version)),
            Property(name="bastion:fingerprint", value=version.fingerprint),
        ]
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=config.name,
        version=config.target_model,
        supplier=OrganizationalEntity(name=config.provider),
        bom_ref=f"model:{config.name}",
        properties=properties,
    )


def _service(host: str, configs: Iterable[ModelConfig]) -> Service:
    configs = list(configs)
    regions = sorted({c.region or "unspecified" for c in configs})
    return Service(
        name=host,
        provider=OrganizationalEntity(name=configs[0].provider),
        endpoints=sorted({XsUri(c.base_url) for c in configs}, key=str),
        bom_ref=f"service:{host}",
        properties=[Property(name="bastion:region", value=r) for r in regions],
    )


def _artifact(artifact: LocalArtifact) -> Component:
    files = [
        Component(
            type=ComponentType.FILE,
            name=file.path,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=file.sha256)]
            if file.sha256
            else [],
            bom_ref=f"file:{file.path}",
            properties=[
                Property(name="bastion:pinned_sha256", value=file.pinned or "none"),
                Property(name="bastion:intact", value=str(file.intact).lower()),
            ],
        )
        for file in artifact.files
    ]
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=artifact.name,
        version=artifact.version or None,
        supplier=OrganizationalEntity(name=artifact.supplier) if artifact.supplier else None,
        bom_ref=f"artifact:{artifact.name}",
        components=files,
        properties=[
            Property(name="bastion:kind", value=artifact.kind),
            Property(name="bastion:intact", value=str(artifact.intact).lower()),
        ],
    )


def build_bom(inputs: BomInputs) -> Bom:
    bom = Bom()
    try:
        own_version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        own_version = "unknown"
    root = Component(
        type=ComponentType.APPLICATION,
        name="bastion",
        version=own_version,
        bom_ref="bastion",
        purl=PackageURL(type="pypi", name=DISTRIBUTION, version=own_version),
    )
    bom.metadata.component = root
    models = [_model(m, inputs.versions.get(m.name)) for m in inputs.models]
    artifacts = [_artifact(a) for a in inputs.artifacts]
    libraries = [
        _library(d) for d in python_packages() if _normal(d.metadata["Name"]) != DISTRIBUTION
    ]
    for component in (*models, *artifacts, *libraries):
        bom.components.add(component)
    hosts: dict[str, list[ModelConfig]] = {}
    for model in inputs.models:
        hosts.setdefault(urlsplit(model.base_url).hostname or model.base_url, []).append(model)
    for host, configs in sorted(hosts.items()):
        bom.services.add(_service(host, configs))
    bom.register_dependency(root, [*models, *artifacts, *libraries])
    return bom


def bom_json(bom: Bom) -> str:
    return JsonV1Dot6(bom).output_as_string(indent=2)
