//! Test support: moto server on 127.0.0.1 (written by the store helper).
