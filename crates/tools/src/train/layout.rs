//! The feature layout of the bundled model and the spec that encodes it.
//!
//! One `i64` input `ids` holds one index per single-valued field, all into
//! ONE shared embedding table: each field owns a block of rows (its
//! out-of-vocabulary row first for vocabularies), so the graph needs a
//! single Gather. One `f32` input `genres` holds the mean-pooled genres
//! (`1/k` at each of the `k` genres), multiplied by the genre embedding
//! matrix — the mean of the genre embeddings.
//!
//! The training data is encoded with the crate's own
//! [`Encoder`](reloop_runtime::encoder::Encoder) from the spec built here, so the
//! training encoding and the runtime encoding are the same code.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::movielens::{Dataset, GENRES};
use reloop_runtime::spec::{
    BucketizedSpec, CategoricalSpec, Closed, DType, FieldSpec, InputSpec, KeyPart, KeySpec, ModelSpec,
    MultiCategoricalSpec, OovIndex, OutputKind, OutputSpec, Pooling,
};

/// Name of the `i64` input (one index per single-valued field).
pub const IDS_INPUT: &str = "ids";
/// Name of the `f32` input (mean-pooled genres).
pub const GENRES_INPUT: &str = "genres";
/// Name of the probability output.
pub const PROB_OUTPUT: &str = "prob";
/// Name of the last hidden layer's output (the last ReLU).
pub const HIDDEN_OUTPUT: &str = "hidden";
/// Name of the first layer's input: the id fields' embeddings (8 each, in
/// [`ID_FIELDS`] order) then the genres' mean embedding.
pub const FIRST_LAYER_INPUT: &str = "x";
/// How much the release year's embedding weighs in the memory's key
/// against the genres (see [`bundled_key`]).
pub const KEY_YEAR_SCALE: f32 = 0.5;
/// The single-valued fields, in the column order of `ids`.
pub const ID_FIELDS: [&str; 9] = ["userId", "itemId", "age", "gender", "occupation", "zip", "year", "hour", "weekday"];
/// Age bucket boundaries (years; the MovieLens-1M age groups).
pub const AGE_BOUNDARIES: [f64; 6] = [18.0, 25.0, 35.0, 45.0, 50.0, 56.0];
/// Release-year bucket boundaries.
pub const YEAR_BOUNDARIES: [f64; 9] = [1960.0, 1970.0, 1980.0, 1990.0, 1993.0, 1995.0, 1996.0, 1997.0, 1998.0];
/// Release year assumed for the few movies without a release date.
pub const YEAR_DEFAULT: f64 = 1995.0;

/// The vocabularies the model is built on.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// User ids with their own embedding (others share the OOV row).
    pub users: Vec<String>,
    /// Item ids with their own embedding.
    pub items: Vec<String>,
    /// Genders.
    pub genders: Vec<String>,
    /// Occupations.
    pub occupations: Vec<String>,
    /// Zip prefixes (first character).
    pub zips: Vec<String>,
}

/// One field's block of rows in the shared embedding table.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Field name.
    pub field: &'static str,
    /// Rows of the table, `start` being the OOV (or first bucket) row.
    pub rows: Range<usize>,
}

fn sorted<I: IntoIterator<Item = String>>(values: I) -> Vec<String> {
    values.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
}

impl Layout {
    /// The vocabularies of the events in `range` (users and items seen
    /// there; later ones go to the OOV rows), and all genders,
    /// occupations and zip prefixes of the users file.
    pub fn from_dataset(data: &Dataset, range: Range<usize>) -> Layout {
        let events = data.events.get(range).unwrap_or_default();
        let mut users: Vec<u32> = events.iter().map(|e| e.user).collect::<BTreeSet<_>>().into_iter().collect();
        let mut items: Vec<u32> = events.iter().map(|e| e.item).collect::<BTreeSet<_>>().into_iter().collect();
        users.sort_unstable();
        items.sort_unstable();
        Layout {
            users: users.iter().map(u32::to_string).collect(),
            items: items.iter().map(u32::to_string).collect(),
            genders: sorted(data.users.values().map(|u| u.gender.clone())),
            occupations: sorted(data.users.values().map(|u| u.occupation.clone())),
            zips: sorted(data.users.values().map(|u| u.zip.chars().take(1).collect())),
        }
    }

    /// A small layout for tests (no data needed).
    pub fn tiny() -> Layout {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Layout {
            users: strings(&["1", "2", "3"]),
            items: strings(&["10", "20", "30", "40"]),
            genders: strings(&["F", "M"]),
            occupations: strings(&["student", "writer"]),
            zips: strings(&["0", "9"]),
        }
    }

    /// The blocks of the shared embedding table, in [`ID_FIELDS`] order.
    pub fn blocks(&self) -> Vec<Block> {
        let sizes = [
            1 + self.users.len(),
            1 + self.items.len(),
            AGE_BOUNDARIES.len() + 1,
            1 + self.genders.len(),
            1 + self.occupations.len(),
            1 + self.zips.len(),
            YEAR_BOUNDARIES.len() + 1,
            24,
            7,
        ];
        let mut start = 0;
        ID_FIELDS
            .iter()
            .zip(sizes)
            .map(|(&field, size)| {
                let block = Block { field, rows: start..start + size };
                start += size;
                block
            })
            .collect()
    }

    /// Rows of the shared embedding table.
    pub fn vocab_size(&self) -> usize {
        self.blocks().last().map_or(0, |b| b.rows.end)
    }

    /// Width of the `genres` input: the OOV column plus one per genre.
    pub fn genre_width(&self) -> usize {
        GENRES.len() + 1
    }

    /// The OOV rows of `userId` and `itemId` (what id dropout writes).
    pub fn oov_rows(&self) -> (i64, i64) {
        let blocks = self.blocks();
        let at = |i: usize| blocks.get(i).map_or(0, |b| b.rows.start as i64);
        (at(0), at(1))
    }

    /// The model spec for this layout with the bundled key ([`bundled_key`]),
    /// the given centring vector and label rate.
    pub fn spec(&self, mu: Option<Vec<f32>>, p0: f32) -> ModelSpec {
        self.spec_with_key(bundled_key(EMBEDDING_DIM), mu, p0)
    }

    /// The model spec for this layout with the memory key `key`.
    pub fn spec_with_key(&self, key: KeySpec, mu: Option<Vec<f32>>, p0: f32) -> ModelSpec {
        let mut fields = BTreeMap::new();
        for block in self.blocks() {
            let start = block.rows.start as i64;
            let vocab = |values: &[String]| {
                FieldSpec::Categorical(CategoricalSpec {
                    vocabulary: Some(values.iter().zip(start + 1..).map(|(v, i)| (v.clone(), i)).collect()),
                    oov_index: OovIndex::Index(start),
                    ..CategoricalSpec::default()
                })
            };
            let buckets = |boundaries: Vec<f64>, default: Option<f64>| {
                FieldSpec::Bucketized(BucketizedSpec {
                    boundaries,
                    closed: Closed::Left,
                    out_of_range: None,
                    offset: start,
                    one_hot: false,
                    default,
                })
            };
            let field = match block.field {
                "userId" => vocab(&self.users),
                "itemId" => vocab(&self.items),
                "age" => buckets(AGE_BOUNDARIES.to_vec(), None),
                "gender" => vocab(&self.genders),
                "occupation" => vocab(&self.occupations),
                "zip" => vocab(&self.zips),
                "year" => buckets(YEAR_BOUNDARIES.to_vec(), Some(YEAR_DEFAULT)),
                "hour" => buckets((1..24).map(f64::from).collect(), None),
                _ => buckets((1..7).map(f64::from).collect(), None),
            };
            fields.insert(block.field.to_string(), field);
        }
        fields.insert(
            "genres".to_string(),
            FieldSpec::MultiCategorical(MultiCategoricalSpec {
                vocabulary: Some(GENRES.iter().zip(1..).map(|(g, i)| (g.to_string(), i)).collect()),
                oov_index: OovIndex::Index(0),
                hash_buckets: None,
                hash_offset: 0,
                pooling: Pooling::Mean,
                max_len: None,
                pad_index: 0,
                default: Some(serde_json::Value::Array(Vec::new())),
            }),
        );
        ModelSpec {
            version: reloop_runtime::spec::SPEC_VERSION,
            inputs: vec![
                InputSpec {
                    name: IDS_INPUT.into(),
                    dtype: DType::I64,
                    columns: ID_FIELDS.iter().map(|f| f.to_string()).collect(),
                },
                InputSpec { name: GENRES_INPUT.into(), dtype: DType::F32, columns: vec!["genres".into()] },
            ],
            fields,
            outputs: OutputSpec { probability: PROB_OUTPUT.into(), kind: OutputKind::Probability, hidden: key },
            mu,
            p0: Some(p0),
            max_batch: reloop_runtime::spec::DEFAULT_MAX_BATCH,
        }
    }
}

/// The width of each id field's embedding in the bundled model.
pub const EMBEDDING_DIM: usize = 8;

/// The bundled model's memory key: the genres the model reads (its
/// mean-pooled genres input) and, at [`KEY_YEAR_SCALE`], the release year's
/// embedding (columns of [`FIRST_LAYER_INPUT`]) — what tells one session's
/// items apart, where the last hidden layer is dominated by the user's
/// features. Chosen on the replay's tuning part and the demo page's
/// scenario (`replay --tune-defaults`, README).
pub fn bundled_key(dim: usize) -> KeySpec {
    let year = ID_FIELDS.iter().position(|f| *f == "year").unwrap_or(0);
    KeySpec::Parts(vec![
        KeyPart { node: GENRES_INPUT.into(), columns: None, scale: 1.0 },
        KeyPart {
            node: FIRST_LAYER_INPUT.into(),
            columns: Some([year * dim, (year + 1) * dim]),
            scale: KEY_YEAR_SCALE,
        },
    ])
}

/// The key of the last hidden layer (what the runtime's parity checks read).
pub fn hidden_key() -> KeySpec {
    KeySpec::Node(HIDDEN_OUTPUT.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_tile_the_table_and_the_spec_is_valid() {
        let layout = Layout::tiny();
        let blocks = layout.blocks();
        assert_eq!(blocks.len(), ID_FIELDS.len());
        assert!(blocks.windows(2).all(|w| w[0].rows.end == w[1].rows.start));
        assert_eq!(layout.vocab_size(), 4 + 5 + 7 + 3 + 3 + 3 + 10 + 24 + 7);
        let spec = layout.spec(None, 0.5);
        spec.validate().unwrap();
        assert_eq!(spec.input_widths(), vec![9, 20]);
    }
}
