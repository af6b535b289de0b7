//! Charts: values merging, set paths, kubeVersion, hooks, CRDs, NOTES, ordering.
