//! The real trident-operator chart.
