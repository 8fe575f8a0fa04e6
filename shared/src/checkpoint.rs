//! Checkpoints and gap reports (written by the lister helper).
