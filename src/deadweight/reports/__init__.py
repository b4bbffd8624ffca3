"""Renderers: each turns a finished result into a string (terminal, JSON, Markdown, SARIF); none prints or
computes analysis."""
