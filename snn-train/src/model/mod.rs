//! What a network is: the serde description a config or a preset gives ([`spec`]) and
//! the population graph with its parameters built from it ([`net`]).

pub mod net;
pub mod spec;
