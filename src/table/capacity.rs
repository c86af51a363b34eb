//! ConsumedCapacity as the service documents it: one capacity unit per started 4 KiB,
//! at least one for any operation that touched that side.

/// Bytes per capacity unit.
pub const BYTES_PER_CU: usize = 4096;

/// Capacity units for `bytes` read or written: ceil(bytes / 4 KiB), at least 1.
pub fn units(bytes: usize) -> i32 {
    i32::try_from(bytes.div_ceil(BYTES_PER_CU).max(1)).unwrap_or(i32::MAX)
}

/// Read and write CU consumed by one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Consumed {
    /// Read capacity units.
    pub read: i32,
    /// Write capacity units.
    pub write: i32,
}

impl Consumed {
    /// A read of `bytes` bytes.
    pub fn read(bytes: usize) -> Consumed {
        Consumed {
            read: units(bytes),
            write: 0,
        }
    }
    /// A write of `bytes` bytes.
    pub fn write(bytes: usize) -> Consumed {
        Consumed {
            read: 0,
            write: units(bytes),
        }
    }
    /// A write of `bytes` bytes that also had to read the row (a condition check).
    pub fn checked_write(bytes: usize, read_bytes: usize) -> Consumed {
        Consumed {
            read: units(read_bytes),
            write: units(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_up_with_a_minimum_of_one() {
        assert_eq!(units(0), 1);
        assert_eq!(units(1), 1);
        assert_eq!(units(4096), 1);
        assert_eq!(units(4097), 2);
        assert_eq!(Consumed::read(9000), Consumed { read: 3, write: 0 });
        assert_eq!(
            Consumed::checked_write(10, 0),
            Consumed { read: 1, write: 1 }
        );
    }
}
