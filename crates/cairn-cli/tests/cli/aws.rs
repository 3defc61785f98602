//! The Redis stacks against the local AWS emulator (moto + redis-server twins).
