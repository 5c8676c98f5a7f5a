//! Shared vocabulary of minesim: ids, units, simulated time, the mine site model and the protocol.
