//! `SstBuilder`: streams sorted internal keys into data blocks, then writes the bloom,
//! index and properties blocks and the footer, and fsyncs. Fsyncing the directory entry
//! and recording the file in the manifest is the caller's job.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::block::BlockBuilder;
use super::bloom::{build_filter, row_hash};
use super::footer::{BlockHandle, Footer, Properties};
use super::{SstInfo, SstOptions};
use crate::engine::error::{Error, Result};
use crate::engine::{fault, key};

/// Writes one SSTable. Dropping it without `finish` leaves a partial file the caller deletes.
pub struct SstBuilder {
    path: PathBuf,
    file: BufWriter<File>,
    opts: SstOptions,
    /// Bytes handed to `file` so far (the offset of the next block).
    offset: u64,
    data: BlockBuilder,
    index: BlockBuilder,
    index_value: Vec<u8>,
    last_key: Vec<u8>,
    last_row: Vec<u8>,
    row_hashes: Vec<u64>,
    props: Properties,
}

impl SstBuilder {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path, opts: SstOptions) -> Result<SstBuilder> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(SstBuilder {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(256 << 10, file),
            data: BlockBuilder::new(opts.restart_interval),
            index: BlockBuilder::new(opts.restart_interval),
            opts,
            offset: 0,
            index_value: Vec::with_capacity(20),
            last_key: Vec::new(),
            last_row: Vec::new(),
            row_hashes: Vec::new(),
            props: Properties::default(),
        })
    }

    /// Appends one record. Keys must be strictly ascending, well-formed internal keys
    /// (`Error::InvalidArgument` otherwise); keys and values must be shorter than 4 GiB.
    pub fn add(&mut self, internal_key: &[u8], value: &[u8]) -> Result<()> {
        if self.props.entries > 0 && internal_key <= self.last_key.as_slice() {
            return Err(Error::InvalidArgument(format!(
                "sstable keys must be strictly ascending: {:?} after {:?}",
                internal_key, self.last_key
            )));
        }
        let Some((cell, seqno, _kind)) = key::split_internal_key(internal_key) else {
            return Err(Error::InvalidArgument(format!(
                "not an internal key: {internal_key:?}"
            )));
        };
        let Some(row) = key::cell_row(cell) else {
            return Err(Error::InvalidArgument(format!(
                "internal key without a row: {internal_key:?}"
            )));
        };
        if u32::try_from(internal_key.len()).is_err() || u32::try_from(value.len()).is_err() {
            return Err(Error::InvalidArgument(
                "sstable key or value of 4 GiB or more".into(),
            ));
        }
        if self.props.entries == 0 {
            self.props.smallest = internal_key.to_vec();
            self.props.smallest_seqno = seqno;
            self.props.largest_seqno = seqno;
        } else {
            self.props.smallest_seqno = self.props.smallest_seqno.min(seqno);
            self.props.largest_seqno = self.props.largest_seqno.max(seqno);
        }
        // Cells of one row are contiguous (row keys are prefix-free), so comparing with the
        // previous row deduplicates the bloom input.
        if self.props.entries == 0 || row != self.last_row.as_slice() {
            self.row_hashes.push(row_hash(row));
            self.last_row.clear();
            self.last_row.extend_from_slice(row);
        }
        self.data.add(internal_key, value);
        self.last_key.clear();
        self.last_key.extend_from_slice(internal_key);
        self.props.entries += 1;
        if self.data.size_estimate() >= self.opts.block_size_bytes {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// Bytes written so far plus the block being filled.
    pub fn estimated_size(&self) -> u64 {
        let pending = if self.data.is_empty() {
            0
        } else {
            self.data.size_estimate() as u64
        };
        self.offset + pending
    }

    /// Records added so far.
    pub fn entries(&self) -> u64 {
        self.props.entries
    }

    fn write_block(&mut self, payload_of: PayloadSource<'_>) -> Result<BlockHandle> {
        let payload: &[u8] = match payload_of {
            PayloadSource::Data => self.data.finish(),
            PayloadSource::Index => self.index.finish(),
            PayloadSource::Bytes(b) => b,
        };
        let handle = BlockHandle {
            offset: self.offset,
            size: payload.len() as u64,
        };
        let crc = crc32fast::hash(payload);
        let io = |e| Error::io(&self.path, e);
        fault::check_space(&self.path).map_err(io)?;
        self.file.write_all(payload).map_err(io)?;
        self.file.write_all(&crc.to_le_bytes()).map_err(io)?;
        self.offset += payload.len() as u64 + 4;
        Ok(handle)
    }

    fn flush_data_block(&mut self) -> Result<()> {
        let handle = self.write_block(PayloadSource::Data)?;
        self.data.reset();
        self.index_value.clear();
        handle.encode_varint(&mut self.index_value);
        self.index.add(&self.last_key, &self.index_value);
        Ok(())
    }

    /// Writes the last data block, bloom, index, properties and footer, then fsyncs.
    pub fn finish(mut self) -> Result<SstInfo> {
        if !self.data.is_empty() {
            self.flush_data_block()?;
        }
        let filter = build_filter(&self.row_hashes, self.opts.bloom_bits_per_key);
        let bloom = self.write_block(PayloadSource::Bytes(&filter))?;
        let index = self.write_block(PayloadSource::Index)?;
        self.props.largest = self.last_key.clone();
        let props_bytes = self.props.encode();
        let props = self.write_block(PayloadSource::Bytes(&props_bytes))?;
        let footer = Footer {
            index,
            bloom,
            props,
        }
        .encode();
        let io = |e| Error::io(&self.path, e);
        self.file.write_all(&footer).map_err(io)?;
        self.offset += footer.len() as u64;
        self.file.flush().map_err(io)?;
        self.file.get_ref().sync_all().map_err(io)?;
        Ok(SstInfo {
            file_size: self.offset,
            entries: self.props.entries,
            smallest: std::mem::take(&mut self.props.smallest),
            largest: std::mem::take(&mut self.props.largest),
            smallest_seqno: self.props.smallest_seqno,
            largest_seqno: self.props.largest_seqno,
        })
    }
}

/// Which buffer `write_block` takes its payload from (avoids borrowing `self` twice).
enum PayloadSource<'a> {
    Data,
    Index,
    Bytes(&'a [u8]),
}
