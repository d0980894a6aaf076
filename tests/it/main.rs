//! Native integration tests: the production pipeline driven with the fakes of
//! `leadnest_edge::testing`. One binary, one module per subject.

// Tests say what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ingress;
