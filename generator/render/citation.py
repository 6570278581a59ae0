"""How a reader cites what the site shows: figure snippets (Markdown and LaTeX) and a BibTeX entry for the site.

A snippet names everything needed to find the figure again: its caption, the run and the hash of the
config that produced it, the figure's file and its permalink. With the site's ``site_url`` set
(``mkdocs.yml`` or ``atlas build --site-url``) links are absolute, so a snippet pasted into a paper
points at the published site; without it they are relative to the site root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata

from generator.store.run_directory import Run

LATEX_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                  "%": r"\%", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
SHORT_HASH = 12  # characters of the config's SHA-256 a snippet shows (as git shows commits)


@dataclass(frozen=True)
class SiteSettings:
    """What the project's mkdocs.yml (or the build command) says about the published site."""

    site_url: str | None = None  # where the site is published, ending with "/"; None: not published
    site_name: str = "Attention Atlas"
    site_author: str | None = None

    def url(self, path: str) -> str:
        """``path`` (relative to the site root) as a link: absolute when the site's URL is known."""
        return f"{self.site_url}{path}" if self.site_url else path


def normalised_site_url(url: str | None) -> str | None:
    """A site URL as MkDocs keeps it (ending with "/"), or None for none; anything but http(s) is refused."""
    if not url:
        return None
    if not re.match(r"^https?://[^\s/]+", url):
        raise ValueError(f"site_url: expected an http:// or https:// address, got {url!r}")
    return url if url.endswith("/") else url + "/"


def latex_escape(text: str) -> str:
    """Text that LaTeX prints as written (every special character escaped)."""
    return "".join(LATEX_SPECIALS.get(char, char) for char in text)


def latex_url(url: str) -> str:
    """A URL inside ``\\url{}``: hyperref reads it verbatim except ``%``, ``#`` and braces."""
    return re.sub(r"([%#{}\\])", r"\\\1", url)


@dataclass(frozen=True)
class FigureCitation:
    """One figure's provenance, as its snippets print it."""

    caption: str
    run: str
    config_sha256: str | None
    image: str  # the PNG (or first file), relative to the site root
    printable: str  # the PDF where there is one, else the image
    permalink: str  # page#anchor, relative to the site root
    label: str  # a LaTeX label

    def provenance(self) -> str:
        config = f", config {self.config_sha256[:SHORT_HASH]}" if self.config_sha256 else ""
        return f"Attention Atlas run {self.run}{config}"

    def markdown(self, settings: SiteSettings) -> str:
        caption = markdown_inert(self.caption)
        return (f"![{caption}]({settings.url(self.image)})\n\n*{caption}.* {markdown_inert(self.provenance())}; "
                f"figure `{self.printable}`; <{settings.url(self.permalink)}>")

    def latex(self, settings: SiteSettings) -> str:
        config = (f", config \\texttt{{{latex_escape(self.config_sha256[:SHORT_HASH])}}}"
                  if self.config_sha256 else "")
        return ("\\begin{figure}[t]\n  \\centering\n"
                f"  \\includegraphics[width=\\linewidth]{{{self.printable}}}\n"
                f"  \\caption{{{latex_escape(self.caption)}. Attention Atlas run \\texttt{{{latex_escape(self.run)}}}"
                f"{config}; \\url{{{latex_url(settings.url(self.permalink))}}}}}\n"
                f"  \\label{{fig:{self.label}}}\n\\end{{figure}}")


def markdown_inert(text: str) -> str:
    """Text that Markdown shows as written inside a snippet (emphasis, code, links and HTML escaped)."""
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def label_of(*parts: str | None) -> str:
    """A LaTeX label from names (letters, digits and ``-`` only)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", "-".join(p for p in parts if p)).strip("-").lower()


@dataclass(frozen=True)
class CitedRun:
    name: str
    config_sha256: str
    created: str  # ISO 8601


def cited_runs(runs: list[Run]) -> list[CitedRun]:
    return [CitedRun(run.name, run.manifest.config_sha256, run.manifest.created) for run in runs]


def package_version() -> str:
    try:
        return metadata.version("attention-atlas")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def site_bibtex(settings: SiteSettings, runs: list[CitedRun], version: str) -> str:
    """A BibTeX ``@misc`` entry for the site: its name, author and URL (when mkdocs.yml gives them), the year of
    its newest run, and the runs it shows with their config hashes."""
    year = max((run.created[:4] for run in runs), default=None)
    shown = "; ".join(f"{run.name} (config {run.config_sha256[:SHORT_HASH]})" for run in runs) or "no runs"
    fields = [("title", f"{{{latex_escape(settings.site_name)}}}")]
    if settings.site_author:
        fields.append(("author", latex_escape(settings.site_author)))
    if year:
        fields.append(("year", year))
    if settings.site_url:
        fields.append(("howpublished", f"\\url{{{latex_url(settings.site_url)}}}"))
    fields.append(("note", f"Interpretability report generated by Attention Atlas {latex_escape(version)} from runs: "
                           f"{latex_escape(shown)}"))
    key = label_of(settings.site_name, year) or "attention-atlas"
    body = ",\n".join(f"  {name} = {{{text}}}" for name, text in fields)
    return f"@misc{{{key},\n{body}\n}}"
