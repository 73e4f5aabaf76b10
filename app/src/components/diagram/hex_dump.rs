//! The hex view under a wire unit in the inspector: offset, hex and ASCII, each header field's bytes tinted in its
//! own colour and named in the key beside them. Geometry and field names come from [`crate::hex_view`].

use leptos::prelude::*;

use crate::hex_view::{HexCell, HexView};

/// Tints the key cycles through; neighbouring fields never share one.
const TINTS: usize = 6;

#[component]
pub fn HexDump(view: HexView) -> impl IntoView {
    let tint = |field: Option<usize>| field.map(|index| format!("hex-field-{}", index % TINTS)).unwrap_or_default();
    let cell_title = move |cell: HexCell, view: &HexView| {
        cell.field.map(|index| view.fields[index].name.clone()).unwrap_or_default()
    };
    let rows = view.rows();
    let cut = view
        .cut_from
        .map(|carried| format!("the first {} of {carried} bytes, as the server kept them", view.bytes.len()));
    view! {
        <details class="hex-view" data-testid="hex-view">
            <summary>"hex"</summary>
            <div class="hex-rows" role="table" aria-label="offset, hex, ASCII">
                {rows
                    .into_iter()
                    .map(|row| view! {
                        <div class="hex-row" role="row">
                            <span class="hex-offset" role="cell">{format!("{:06x}", row.offset)}</span>
                            <span class="hex-bytes" role="cell">
                                {row.cells.iter().map(|&cell| view! {
                                    <span class=tint(cell.field) title=cell_title(cell, &view)>{cell.hex()}</span>
                                }).collect_view()}
                            </span>
                            <span class="hex-ascii" role="cell">
                                {row.cells.iter().map(|&cell| view! {
                                    <span class=tint(cell.field)>{cell.ascii().to_string()}</span>
                                }).collect_view()}
                            </span>
                        </div>
                    })
                    .collect_view()}
            </div>
            <ul class="hex-key">
                {view.fields.iter().enumerate().map(|(index, field)| view! {
                    <li data-testid="hex-field" data-name=field.name.clone()>
                        <span class=tint(Some(index))>
                            {format!("{}–{}", field.bytes.start, field.bytes.end - 1)}
                        </span>
                        " " <strong>{field.name.clone()}</strong>
                        {(!field.value.is_empty()).then(|| format!(": {}", field.value))}
                    </li>
                }).collect_view()}
            </ul>
            {view.notes.iter().map(|note| view! { <p class="hex-note">{note.clone()}</p> }).collect_view()}
            {cut.map(|cut| view! { <p class="hex-note" data-testid="hex-cut">{cut}</p> })}
        </details>
    }
}
