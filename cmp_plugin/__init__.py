"""cmp_plugin: an Argo CD config-management plugin that expands one project file into manifests.

Data flow, one sub-package per stage:
    load -> validate -> render -> secrets -> check -> emit
`cmp_plugin.pipeline` runs the stages; `cmp_plugin.cli` is the command line.
"""

__version__ = "0.1.0"
