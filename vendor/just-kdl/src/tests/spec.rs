//! tests generated from kdl spec
#[test] pub fn all_escapes() { super::test_entry("all_escapes"); }
#[test] pub fn all_node_fields() { super::test_entry("all_node_fields"); }
#[test] pub fn arg_and_prop_same_name() { super::test_entry("arg_and_prop_same_name"); }
#[test] pub fn arg_bare() { super::test_entry("arg_bare"); }
#[test] pub fn arg_false_type() { super::test_entry("arg_false_type"); }
#[test] pub fn arg_float_type() { super::test_entry("arg_float_type"); }
#[test] pub fn arg_hex_type() { super::test_entry("arg_hex_type"); }
#[test] pub fn arg_null_type() { super::test_entry("arg_null_type"); }
#[test] pub fn arg_raw_string_type() { super::test_entry("arg_raw_string_type"); }
#[test] pub fn arg_string_type() { super::test_entry("arg_string_type"); }
#[test] pub fn arg_true_type() { super::test_entry("arg_true_type"); }
#[test] pub fn arg_type() { super::test_entry("arg_type"); }
#[test] pub fn arg_zero_type() { super::test_entry("arg_zero_type"); }
#[test] pub fn asterisk_in_block_comment() { super::test_entry("asterisk_in_block_comment"); }
#[test] pub fn bare_emoji() { super::test_entry("bare_emoji"); }
#[test] pub fn bare_ident_dot() { super::test_entry("bare_ident_dot"); }
#[test] pub fn bare_ident_numeric_dot_fail() { super::test_entry("bare_ident_numeric_dot_fail"); }
#[test] pub fn bare_ident_numeric_fail() { super::test_entry("bare_ident_numeric_fail"); }
#[test] pub fn bare_ident_numeric_sign_fail() { super::test_entry("bare_ident_numeric_sign_fail"); }
#[test] pub fn bare_ident_sign() { super::test_entry("bare_ident_sign"); }
#[test] pub fn bare_ident_sign_dot() { super::test_entry("bare_ident_sign_dot"); }
#[test] pub fn binary() { super::test_entry("binary"); }
#[test] pub fn binary_trailing_underscore() { super::test_entry("binary_trailing_underscore"); }
#[test] pub fn binary_underscore() { super::test_entry("binary_underscore"); }
#[test] pub fn blank_arg_type() { super::test_entry("blank_arg_type"); }
#[test] pub fn blank_node_type() { super::test_entry("blank_node_type"); }
#[test] pub fn blank_prop_type() { super::test_entry("blank_prop_type"); }
#[test] pub fn block_comment() { super::test_entry("block_comment"); }
#[test] pub fn block_comment_after_node() { super::test_entry("block_comment_after_node"); }
#[test] pub fn block_comment_before_node() { super::test_entry("block_comment_before_node"); }
#[test] pub fn block_comment_before_node_no_space() { super::test_entry("block_comment_before_node_no_space"); }
#[test] pub fn block_comment_newline() { super::test_entry("block_comment_newline"); }
#[test] pub fn bom_initial() { super::test_entry("bom_initial"); }
#[test] pub fn bom_later_fail() { super::test_entry("bom_later_fail"); }
#[test] pub fn boolean_arg() { super::test_entry("boolean_arg"); }
#[test] pub fn boolean_prop() { super::test_entry("boolean_prop"); }
#[test] pub fn braces_in_bare_id() { super::test_entry("braces_in_bare_id"); }
#[test] pub fn chevrons_in_bare_id() { super::test_entry("chevrons_in_bare_id"); }
#[test] pub fn comma_in_bare_id() { super::test_entry("comma_in_bare_id"); }
#[test] pub fn comment_after_arg_type() { super::test_entry("comment_after_arg_type"); }
#[test] pub fn comment_after_node_type() { super::test_entry("comment_after_node_type"); }
#[test] pub fn comment_after_prop_type() { super::test_entry("comment_after_prop_type"); }
#[test] pub fn comment_and_newline() { super::test_entry("comment_and_newline"); }
#[test] pub fn comment_in_arg_type() { super::test_entry("comment_in_arg_type"); }
#[test] pub fn comment_in_node_type() { super::test_entry("comment_in_node_type"); }
#[test] pub fn comment_in_prop_type() { super::test_entry("comment_in_prop_type"); }
#[test] pub fn commented_arg() { super::test_entry("commented_arg"); }
#[test] pub fn commented_child() { super::test_entry("commented_child"); }
#[test] pub fn commented_line() { super::test_entry("commented_line"); }
#[test] pub fn commented_node() { super::test_entry("commented_node"); }
#[test] pub fn commented_prop() { super::test_entry("commented_prop"); }
#[test] pub fn crlf_between_nodes() { super::test_entry("crlf_between_nodes"); }
#[test] pub fn dash_dash() { super::test_entry("dash_dash"); }
#[test] pub fn dot_but_no_fraction_before_exponent_fail() { super::test_entry("dot_but_no_fraction_before_exponent_fail"); }
#[test] pub fn dot_but_no_fraction_fail() { super::test_entry("dot_but_no_fraction_fail"); }
#[test] pub fn dot_in_exponent_fail() { super::test_entry("dot_in_exponent_fail"); }
#[test] pub fn dot_zero_fail() { super::test_entry("dot_zero_fail"); }
#[test] pub fn emoji() { super::test_entry("emoji"); }
#[test] pub fn empty() { super::test_entry("empty"); }
#[test] pub fn empty_arg_type_fail() { super::test_entry("empty_arg_type_fail"); }
#[test] pub fn empty_child() { super::test_entry("empty_child"); }
#[test] pub fn empty_child_different_lines() { super::test_entry("empty_child_different_lines"); }
#[test] pub fn empty_child_same_line() { super::test_entry("empty_child_same_line"); }
#[test] pub fn empty_child_whitespace() { super::test_entry("empty_child_whitespace"); }
#[test] pub fn empty_line_comment() { super::test_entry("empty_line_comment"); }
#[test] pub fn empty_node_type_fail() { super::test_entry("empty_node_type_fail"); }
#[test] pub fn empty_prop_type_fail() { super::test_entry("empty_prop_type_fail"); }
#[test] pub fn empty_quoted_node_id() { super::test_entry("empty_quoted_node_id"); }
#[test] pub fn empty_quoted_prop_key() { super::test_entry("empty_quoted_prop_key"); }
#[test] pub fn empty_string_arg() { super::test_entry("empty_string_arg"); }
#[test] pub fn eof_after_escape() { super::test_entry("eof_after_escape"); }
#[test] pub fn err_backslash_in_bare_id_fail() { super::test_entry("err_backslash_in_bare_id_fail"); }
#[test] pub fn esc_multiple_newlines() { super::test_entry("esc_multiple_newlines"); }
#[test] pub fn esc_newline_in_string() { super::test_entry("esc_newline_in_string"); }
#[test] pub fn esc_unicode_in_string() { super::test_entry("esc_unicode_in_string"); }
#[test] pub fn escaped_whitespace() { super::test_entry("escaped_whitespace"); }
#[test] pub fn escline() { super::test_entry("escline"); }
#[test] pub fn escline_after_semicolon() { super::test_entry("escline_after_semicolon"); }
#[test] pub fn escline_alone() { super::test_entry("escline_alone"); }
#[test] pub fn escline_empty_line() { super::test_entry("escline_empty_line"); }
#[test] pub fn escline_end_of_node() { super::test_entry("escline_end_of_node"); }
#[test] pub fn escline_in_child_block() { super::test_entry("escline_in_child_block"); }
#[test] pub fn escline_line_comment() { super::test_entry("escline_line_comment"); }
#[test] pub fn escline_node() { super::test_entry("escline_node"); }
#[test] pub fn escline_node_type() { super::test_entry("escline_node_type"); }
#[test] pub fn escline_slashdash() { super::test_entry("escline_slashdash"); }
#[test] pub fn false_prefix_in_bare_id() { super::test_entry("false_prefix_in_bare_id"); }
#[test] pub fn false_prefix_in_prop_key() { super::test_entry("false_prefix_in_prop_key"); }
#[test] pub fn false_prop_key_fail() { super::test_entry("false_prop_key_fail"); }
#[test] pub fn floating_point_keyword_identifier_strings_fail() { super::test_entry("floating_point_keyword_identifier_strings_fail"); }
#[test] pub fn floating_point_keywords() { super::test_entry("floating_point_keywords"); }
#[test] pub fn hash_in_id_fail() { super::test_entry("hash_in_id_fail"); }
#[test] pub fn hex() { super::test_entry("hex"); }
#[test] pub fn hex_int() { super::test_entry("hex_int"); }
#[test] pub fn hex_int_underscores() { super::test_entry("hex_int_underscores"); }
#[test] pub fn hex_leading_zero() { super::test_entry("hex_leading_zero"); }
#[test] pub fn illegal_char_in_binary_fail() { super::test_entry("illegal_char_in_binary_fail"); }
#[test] pub fn illegal_char_in_hex_fail() { super::test_entry("illegal_char_in_hex_fail"); }
#[test] pub fn illegal_char_in_octal_fail() { super::test_entry("illegal_char_in_octal_fail"); }
#[test] pub fn initial_slashdash() { super::test_entry("initial_slashdash"); }
#[test] pub fn int_multiple_underscore() { super::test_entry("int_multiple_underscore"); }
#[test] pub fn just_block_comment() { super::test_entry("just_block_comment"); }
#[test] pub fn just_child() { super::test_entry("just_child"); }
#[test] pub fn just_newline() { super::test_entry("just_newline"); }
#[test] pub fn just_node_id() { super::test_entry("just_node_id"); }
#[test] pub fn just_space() { super::test_entry("just_space"); }
#[test] pub fn just_space_in_arg_type_fail() { super::test_entry("just_space_in_arg_type_fail"); }
#[test] pub fn just_space_in_node_type_fail() { super::test_entry("just_space_in_node_type_fail"); }
#[test] pub fn just_space_in_prop_type_fail() { super::test_entry("just_space_in_prop_type_fail"); }
#[test] pub fn just_type_no_arg_fail() { super::test_entry("just_type_no_arg_fail"); }
#[test] pub fn just_type_no_node_id_fail() { super::test_entry("just_type_no_node_id_fail"); }
#[test] pub fn just_type_no_prop_fail() { super::test_entry("just_type_no_prop_fail"); }
#[test] pub fn leading_newline() { super::test_entry("leading_newline"); }
#[test] pub fn leading_zero_binary() { super::test_entry("leading_zero_binary"); }
#[test] pub fn leading_zero_int() { super::test_entry("leading_zero_int"); }
#[test] pub fn leading_zero_oct() { super::test_entry("leading_zero_oct"); }
#[test] pub fn legacy_raw_string_fail() { super::test_entry("legacy_raw_string_fail"); }
#[test] pub fn legacy_raw_string_hash_fail() { super::test_entry("legacy_raw_string_hash_fail"); }
#[test] pub fn multiline_comment() { super::test_entry("multiline_comment"); }
#[test] pub fn multiline_nodes() { super::test_entry("multiline_nodes"); }
#[test] pub fn multiline_raw_string() { super::test_entry("multiline_raw_string"); }
#[test] pub fn multiline_raw_string_containing_quotes() { super::test_entry("multiline_raw_string_containing_quotes"); }
#[test] pub fn multiline_raw_string_empty() { super::test_entry("multiline_raw_string_empty"); }
#[test] pub fn multiline_raw_string_empty_indented() { super::test_entry("multiline_raw_string_empty_indented"); }
#[test] pub fn multiline_raw_string_indented() { super::test_entry("multiline_raw_string_indented"); }
#[test] pub fn multiline_raw_string_non_matching_prefix_character_error_fail() { super::test_entry("multiline_raw_string_non_matching_prefix_character_error_fail"); }
#[test] pub fn multiline_raw_string_non_matching_prefix_count_error_fail() { super::test_entry("multiline_raw_string_non_matching_prefix_count_error_fail"); }
#[test] pub fn multiline_raw_string_single_line_err_fail() { super::test_entry("multiline_raw_string_single_line_err_fail"); }
#[test] pub fn multiline_raw_string_single_quote_err_fail() { super::test_entry("multiline_raw_string_single_quote_err_fail"); }
#[test] pub fn multiline_string() { super::test_entry("multiline_string"); }
#[test] pub fn multiline_string_containing_quotes() { super::test_entry("multiline_string_containing_quotes"); }
#[test] pub fn multiline_string_double_backslash() { super::test_entry("multiline_string_double_backslash"); }
#[test] pub fn multiline_string_empty() { super::test_entry("multiline_string_empty"); }
#[test] pub fn multiline_string_empty_indented() { super::test_entry("multiline_string_empty_indented"); }
#[test] pub fn multiline_string_escape_delimiter() { super::test_entry("multiline_string_escape_delimiter"); }
#[test] pub fn multiline_string_escape_in_closing_line() { super::test_entry("multiline_string_escape_in_closing_line"); }
#[test] pub fn multiline_string_escape_in_closing_line_shallow() { super::test_entry("multiline_string_escape_in_closing_line_shallow"); }
#[test] pub fn multiline_string_escape_newline_at_end() { super::test_entry("multiline_string_escape_newline_at_end"); }
#[test] pub fn multiline_string_escape_newline_at_end_fail() { super::test_entry("multiline_string_escape_newline_at_end_fail"); }
#[test] pub fn multiline_string_final_whitespace_escape_fail() { super::test_entry("multiline_string_final_whitespace_escape_fail"); }
#[test] pub fn multiline_string_indented() { super::test_entry("multiline_string_indented"); }
#[test] pub fn multiline_string_non_literal_prefix_fail() { super::test_entry("multiline_string_non_literal_prefix_fail"); }
#[test] pub fn multiline_string_non_matching_prefix_character_error_fail() { super::test_entry("multiline_string_non_matching_prefix_character_error_fail"); }
#[test] pub fn multiline_string_non_matching_prefix_count_error_fail() { super::test_entry("multiline_string_non_matching_prefix_count_error_fail"); }
#[test] pub fn multiline_string_single_line_err_fail() { super::test_entry("multiline_string_single_line_err_fail"); }
#[test] pub fn multiline_string_single_quote_err_fail() { super::test_entry("multiline_string_single_quote_err_fail"); }
#[test] pub fn multiline_string_whitespace_only() { super::test_entry("multiline_string_whitespace_only"); }
#[test] pub fn multiline_string_wrapped_binary() { super::test_entry("multiline_string_wrapped_binary"); }
#[test] pub fn multiple_dots_in_float_before_exponent_fail() { super::test_entry("multiple_dots_in_float_before_exponent_fail"); }
#[test] pub fn multiple_dots_in_float_fail() { super::test_entry("multiple_dots_in_float_fail"); }
#[test] pub fn multiple_es_in_float_fail() { super::test_entry("multiple_es_in_float_fail"); }
#[test] pub fn multiple_x_in_hex_fail() { super::test_entry("multiple_x_in_hex_fail"); }
#[test] pub fn negative_exponent() { super::test_entry("negative_exponent"); }
#[test] pub fn negative_float() { super::test_entry("negative_float"); }
#[test] pub fn negative_int() { super::test_entry("negative_int"); }
#[test] pub fn nested_block_comment() { super::test_entry("nested_block_comment"); }
#[test] pub fn nested_children() { super::test_entry("nested_children"); }
#[test] pub fn nested_comments() { super::test_entry("nested_comments"); }
#[test] pub fn nested_multiline_block_comment() { super::test_entry("nested_multiline_block_comment"); }
#[test] pub fn newline_between_nodes() { super::test_entry("newline_between_nodes"); }
#[test] pub fn newlines_in_block_comment() { super::test_entry("newlines_in_block_comment"); }
#[test] pub fn no_decimal_exponent() { super::test_entry("no_decimal_exponent"); }
#[test] pub fn no_digits_in_hex_fail() { super::test_entry("no_digits_in_hex_fail"); }
#[test] pub fn no_integer_digit_fail() { super::test_entry("no_integer_digit_fail"); }
#[test] pub fn no_solidus_escape_fail() { super::test_entry("no_solidus_escape_fail"); }
#[test] pub fn node_false() { super::test_entry("node_false"); }
#[test] pub fn node_true() { super::test_entry("node_true"); }
#[test] pub fn node_type() { super::test_entry("node_type"); }
#[test] pub fn null_arg() { super::test_entry("null_arg"); }
#[test] pub fn null_prefix_in_bare_id() { super::test_entry("null_prefix_in_bare_id"); }
#[test] pub fn null_prefix_in_prop_key() { super::test_entry("null_prefix_in_prop_key"); }
#[test] pub fn null_prop() { super::test_entry("null_prop"); }
#[test] pub fn null_prop_key_fail() { super::test_entry("null_prop_key_fail"); }
#[test] pub fn numeric_arg() { super::test_entry("numeric_arg"); }
#[test] pub fn numeric_prop() { super::test_entry("numeric_prop"); }
#[test] pub fn octal() { super::test_entry("octal"); }
#[test] pub fn only_cr() { super::test_entry("only_cr"); }
#[test] pub fn only_line_comment() { super::test_entry("only_line_comment"); }
#[test] pub fn only_line_comment_crlf() { super::test_entry("only_line_comment_crlf"); }
#[test] pub fn only_line_comment_newline() { super::test_entry("only_line_comment_newline"); }
#[test] pub fn optional_child_semicolon() { super::test_entry("optional_child_semicolon"); }
#[test] pub fn parens_in_bare_id_fail() { super::test_entry("parens_in_bare_id_fail"); }
#[test] pub fn parse_all_arg_types() { super::test_entry("parse_all_arg_types"); }
#[test] pub fn positive_exponent() { super::test_entry("positive_exponent"); }
#[test] pub fn positive_int() { super::test_entry("positive_int"); }
#[test] pub fn preserve_duplicate_nodes() { super::test_entry("preserve_duplicate_nodes"); }
#[test] pub fn preserve_node_order() { super::test_entry("preserve_node_order"); }
#[test] pub fn prop_false_type() { super::test_entry("prop_false_type"); }
#[test] pub fn prop_float_type() { super::test_entry("prop_float_type"); }
#[test] pub fn prop_hex_type() { super::test_entry("prop_hex_type"); }
#[test] pub fn prop_identifier_type() { super::test_entry("prop_identifier_type"); }
#[test] pub fn prop_null_type() { super::test_entry("prop_null_type"); }
#[test] pub fn prop_raw_string_type() { super::test_entry("prop_raw_string_type"); }
#[test] pub fn prop_string_type() { super::test_entry("prop_string_type"); }
#[test] pub fn prop_true_type() { super::test_entry("prop_true_type"); }
#[test] pub fn prop_type() { super::test_entry("prop_type"); }
#[test] pub fn prop_zero_type() { super::test_entry("prop_zero_type"); }
#[test] pub fn question_mark_before_number() { super::test_entry("question_mark_before_number"); }
#[test] pub fn quote_in_bare_id_fail() { super::test_entry("quote_in_bare_id_fail"); }
#[test] pub fn quoted_arg_type() { super::test_entry("quoted_arg_type"); }
#[test] pub fn quoted_node_name() { super::test_entry("quoted_node_name"); }
#[test] pub fn quoted_node_type() { super::test_entry("quoted_node_type"); }
#[test] pub fn quoted_numeric() { super::test_entry("quoted_numeric"); }
#[test] pub fn quoted_prop_name() { super::test_entry("quoted_prop_name"); }
#[test] pub fn quoted_prop_type() { super::test_entry("quoted_prop_type"); }
#[test] pub fn r_node() { super::test_entry("r_node"); }
#[test] pub fn raw_arg_type() { super::test_entry("raw_arg_type"); }
#[test] pub fn raw_node_name() { super::test_entry("raw_node_name"); }
#[test] pub fn raw_node_type() { super::test_entry("raw_node_type"); }
#[test] pub fn raw_prop_type() { super::test_entry("raw_prop_type"); }
#[test] pub fn raw_string_arg() { super::test_entry("raw_string_arg"); }
#[test] pub fn raw_string_backslash() { super::test_entry("raw_string_backslash"); }
#[test] pub fn raw_string_hash_no_esc() { super::test_entry("raw_string_hash_no_esc"); }
#[test] pub fn raw_string_just_backslash() { super::test_entry("raw_string_just_backslash"); }
#[test] pub fn raw_string_just_quote_fail() { super::test_entry("raw_string_just_quote_fail"); }
#[test] pub fn raw_string_multiple_hash() { super::test_entry("raw_string_multiple_hash"); }
#[test] pub fn raw_string_newline() { super::test_entry("raw_string_newline"); }
#[test] pub fn raw_string_prop() { super::test_entry("raw_string_prop"); }
#[test] pub fn raw_string_quote() { super::test_entry("raw_string_quote"); }
#[test] pub fn repeated_arg() { super::test_entry("repeated_arg"); }
#[test] pub fn repeated_prop() { super::test_entry("repeated_prop"); }
#[test] pub fn same_name_nodes() { super::test_entry("same_name_nodes"); }
#[test] pub fn sci_notation_large() { super::test_entry("sci_notation_large"); }
#[test] pub fn sci_notation_small() { super::test_entry("sci_notation_small"); }
#[test] pub fn semicolon_after_child() { super::test_entry("semicolon_after_child"); }
#[test] pub fn semicolon_in_child() { super::test_entry("semicolon_in_child"); }
#[test] pub fn semicolon_missing_after_children_fail() { super::test_entry("semicolon_missing_after_children_fail"); }
#[test] pub fn semicolon_separated() { super::test_entry("semicolon_separated"); }
#[test] pub fn semicolon_separated_nodes() { super::test_entry("semicolon_separated_nodes"); }
#[test] pub fn semicolon_terminated() { super::test_entry("semicolon_terminated"); }
#[test] pub fn single_arg() { super::test_entry("single_arg"); }
#[test] pub fn single_prop() { super::test_entry("single_prop"); }
#[test] pub fn slash_in_bare_id_fail() { super::test_entry("slash_in_bare_id_fail"); }
#[test] pub fn slashdash_after_arg_type_fail() { super::test_entry("slashdash_after_arg_type_fail"); }
#[test] pub fn slashdash_after_node_type_fail() { super::test_entry("slashdash_after_node_type_fail"); }
#[test] pub fn slashdash_after_prop_key_fail() { super::test_entry("slashdash_after_prop_key_fail"); }
#[test] pub fn slashdash_after_prop_val_type_fail() { super::test_entry("slashdash_after_prop_val_type_fail"); }
#[test] pub fn slashdash_after_type_fail() { super::test_entry("slashdash_after_type_fail"); }
#[test] pub fn slashdash_arg_after_newline_esc() { super::test_entry("slashdash_arg_after_newline_esc"); }
#[test] pub fn slashdash_arg_before_newline_esc() { super::test_entry("slashdash_arg_before_newline_esc"); }
#[test] pub fn slashdash_before_children_end_fail() { super::test_entry("slashdash_before_children_end_fail"); }
#[test] pub fn slashdash_before_eof_fail() { super::test_entry("slashdash_before_eof_fail"); }
#[test] pub fn slashdash_before_prop_value_fail() { super::test_entry("slashdash_before_prop_value_fail"); }
#[test] pub fn slashdash_before_semicolon_fail() { super::test_entry("slashdash_before_semicolon_fail"); }
#[test] pub fn slashdash_between_child_blocks_fail() { super::test_entry("slashdash_between_child_blocks_fail"); }
#[test] pub fn slashdash_child() { super::test_entry("slashdash_child"); }
#[test] pub fn slashdash_child_block_before_entry_err_fail() { super::test_entry("slashdash_child_block_before_entry_err_fail"); }
#[test] pub fn slashdash_empty_child() { super::test_entry("slashdash_empty_child"); }
#[test] pub fn slashdash_escline_before_arg_type() { super::test_entry("slashdash_escline_before_arg_type"); }
#[test] pub fn slashdash_escline_before_children() { super::test_entry("slashdash_escline_before_children"); }
#[test] pub fn slashdash_escline_before_node() { super::test_entry("slashdash_escline_before_node"); }
#[test] pub fn slashdash_false_node() { super::test_entry("slashdash_false_node"); }
#[test] pub fn slashdash_full_node() { super::test_entry("slashdash_full_node"); }
#[test] pub fn slashdash_in_slashdash() { super::test_entry("slashdash_in_slashdash"); }
#[test] pub fn slashdash_inside_arg_type_fail() { super::test_entry("slashdash_inside_arg_type_fail"); }
#[test] pub fn slashdash_inside_node_type_fail() { super::test_entry("slashdash_inside_node_type_fail"); }
#[test] pub fn slashdash_multi_line_comment_entry() { super::test_entry("slashdash_multi_line_comment_entry"); }
#[test] pub fn slashdash_multi_line_comment_inline() { super::test_entry("slashdash_multi_line_comment_inline"); }
#[test] pub fn slashdash_multiple_child_blocks() { super::test_entry("slashdash_multiple_child_blocks"); }
#[test] pub fn slashdash_negative_number() { super::test_entry("slashdash_negative_number"); }
#[test] pub fn slashdash_newline_before_children() { super::test_entry("slashdash_newline_before_children"); }
#[test] pub fn slashdash_newline_before_entry() { super::test_entry("slashdash_newline_before_entry"); }
#[test] pub fn slashdash_newline_before_node() { super::test_entry("slashdash_newline_before_node"); }
#[test] pub fn slashdash_node_in_child() { super::test_entry("slashdash_node_in_child"); }
#[test] pub fn slashdash_node_with_child() { super::test_entry("slashdash_node_with_child"); }
#[test] pub fn slashdash_only_node() { super::test_entry("slashdash_only_node"); }
#[test] pub fn slashdash_only_node_with_space() { super::test_entry("slashdash_only_node_with_space"); }
#[test] pub fn slashdash_prop() { super::test_entry("slashdash_prop"); }
#[test] pub fn slashdash_raw_prop_key() { super::test_entry("slashdash_raw_prop_key"); }
#[test] pub fn slashdash_repeated_prop() { super::test_entry("slashdash_repeated_prop"); }
#[test] pub fn slashdash_single_line_comment_entry() { super::test_entry("slashdash_single_line_comment_entry"); }
#[test] pub fn slashdash_single_line_comment_node() { super::test_entry("slashdash_single_line_comment_node"); }
#[test] pub fn space_after_arg_type() { super::test_entry("space_after_arg_type"); }
#[test] pub fn space_after_node_type() { super::test_entry("space_after_node_type"); }
#[test] pub fn space_after_prop_type() { super::test_entry("space_after_prop_type"); }
#[test] pub fn space_around_prop_marker() { super::test_entry("space_around_prop_marker"); }
#[test] pub fn space_in_arg_type() { super::test_entry("space_in_arg_type"); }
#[test] pub fn space_in_node_type() { super::test_entry("space_in_node_type"); }
#[test] pub fn space_in_prop_type() { super::test_entry("space_in_prop_type"); }
#[test] pub fn square_bracket_in_bare_id_fail() { super::test_entry("square_bracket_in_bare_id_fail"); }
#[test] pub fn string_arg() { super::test_entry("string_arg"); }
#[test] pub fn string_escaped_literal_whitespace() { super::test_entry("string_escaped_literal_whitespace"); }
#[test] pub fn string_prop() { super::test_entry("string_prop"); }
#[test] pub fn tab_space() { super::test_entry("tab_space"); }
#[test] pub fn trailing_crlf() { super::test_entry("trailing_crlf"); }
#[test] pub fn trailing_underscore_hex() { super::test_entry("trailing_underscore_hex"); }
#[test] pub fn trailing_underscore_octal() { super::test_entry("trailing_underscore_octal"); }
#[test] pub fn true_prefix_in_bare_id() { super::test_entry("true_prefix_in_bare_id"); }
#[test] pub fn true_prefix_in_prop_key() { super::test_entry("true_prefix_in_prop_key"); }
#[test] pub fn true_prop_key_fail() { super::test_entry("true_prop_key_fail"); }
#[test] pub fn two_nodes() { super::test_entry("two_nodes"); }
#[test] pub fn type_before_prop_key_fail() { super::test_entry("type_before_prop_key_fail"); }
#[test] pub fn unbalanced_raw_hashes_fail() { super::test_entry("unbalanced_raw_hashes_fail"); }
#[test] pub fn underscore_at_start_of_fraction_fail() { super::test_entry("underscore_at_start_of_fraction_fail"); }
#[test] pub fn underscore_at_start_of_hex_fail() { super::test_entry("underscore_at_start_of_hex_fail"); }
#[test] pub fn underscore_before_number() { super::test_entry("underscore_before_number"); }
#[test] pub fn underscore_in_exponent() { super::test_entry("underscore_in_exponent"); }
#[test] pub fn underscore_in_float() { super::test_entry("underscore_in_float"); }
#[test] pub fn underscore_in_fraction() { super::test_entry("underscore_in_fraction"); }
#[test] pub fn underscore_in_int() { super::test_entry("underscore_in_int"); }
#[test] pub fn underscore_in_octal() { super::test_entry("underscore_in_octal"); }
#[test] pub fn unicode_delete_fail() { super::test_entry("unicode_delete_fail"); }
#[test] pub fn unicode_escaped_above_max_fail() { super::test_entry("unicode_escaped_above_max_fail"); }
#[test] pub fn unicode_escaped_h1_fail() { super::test_entry("unicode_escaped_h1_fail"); }
#[test] pub fn unicode_escaped_h2_fail() { super::test_entry("unicode_escaped_h2_fail"); }
#[test] pub fn unicode_escaped_h3_fail() { super::test_entry("unicode_escaped_h3_fail"); }
#[test] pub fn unicode_escaped_h4_fail() { super::test_entry("unicode_escaped_h4_fail"); }
#[test] pub fn unicode_escaped_l1_fail() { super::test_entry("unicode_escaped_l1_fail"); }
#[test] pub fn unicode_escaped_l2_fail() { super::test_entry("unicode_escaped_l2_fail"); }
#[test] pub fn unicode_escaped_l3_fail() { super::test_entry("unicode_escaped_l3_fail"); }
#[test] pub fn unicode_escaped_too_long_lead0_fail() { super::test_entry("unicode_escaped_too_long_lead0_fail"); }
#[test] pub fn unicode_fsi_fail() { super::test_entry("unicode_fsi_fail"); }
#[test] pub fn unicode_lre_fail() { super::test_entry("unicode_lre_fail"); }
#[test] pub fn unicode_lri_fail() { super::test_entry("unicode_lri_fail"); }
#[test] pub fn unicode_lrm_fail() { super::test_entry("unicode_lrm_fail"); }
#[test] pub fn unicode_lro_fail() { super::test_entry("unicode_lro_fail"); }
#[test] pub fn unicode_pdf_fail() { super::test_entry("unicode_pdf_fail"); }
#[test] pub fn unicode_pdi_fail() { super::test_entry("unicode_pdi_fail"); }
#[test] pub fn unicode_rle_fail() { super::test_entry("unicode_rle_fail"); }
#[test] pub fn unicode_rli_fail() { super::test_entry("unicode_rli_fail"); }
#[test] pub fn unicode_rlm_fail() { super::test_entry("unicode_rlm_fail"); }
#[test] pub fn unicode_rlo_fail() { super::test_entry("unicode_rlo_fail"); }
#[test] pub fn unicode_silly() { super::test_entry("unicode_silly"); }
#[test] pub fn unicode_under_0x20_fail() { super::test_entry("unicode_under_0x20_fail"); }
#[test] pub fn unterminated_empty_node_fail() { super::test_entry("unterminated_empty_node_fail"); }
#[test] pub fn unusual_bare_id_chars_in_quoted_id() { super::test_entry("unusual_bare_id_chars_in_quoted_id"); }
#[test] pub fn unusual_chars_in_bare_id() { super::test_entry("unusual_chars_in_bare_id"); }
#[test] pub fn vertical_tab_whitespace() { super::test_entry("vertical_tab_whitespace"); }
#[test] pub fn zero_float() { super::test_entry("zero_float"); }
#[test] pub fn zero_int() { super::test_entry("zero_int"); }
#[test] pub fn zero_space_before_first_arg_fail() { super::test_entry("zero_space_before_first_arg_fail"); }
#[test] pub fn zero_space_before_prop_fail() { super::test_entry("zero_space_before_prop_fail"); }
#[test] pub fn zero_space_before_second_arg_fail() { super::test_entry("zero_space_before_second_arg_fail"); }
#[test] pub fn zero_space_before_slashdash_arg() { super::test_entry("zero_space_before_slashdash_arg"); }
#[test] pub fn zero_space_before_slashdash_children() { super::test_entry("zero_space_before_slashdash_children"); }
#[test] pub fn zero_space_before_slashdash_prop() { super::test_entry("zero_space_before_slashdash_prop"); }
pub static TESTS: [(&str, &str, Option<&str>); 336] = [
	("all_escapes", "node \"\\\"\\\\\\b\\f\\n\\r\\t\\s\"\n", Some("node \"\\\"\\\\\\b\\f\\n\\r\\t \"\n")),
	("all_node_fields", "node arg prop=val {\n    inner_node\n}\n", Some("node arg prop=val {\n    inner_node\n}\n")),
	("arg_and_prop_same_name", "node arg arg=val\n", Some("node arg arg=val\n")),
	("arg_bare", "node a\n", Some("node a\n")),
	("arg_false_type", "node (type)#false\n", Some("node (type)#false\n")),
	("arg_float_type", "node (type)2.5", Some("node (type)2.5\n")),
	("arg_hex_type", "node (type)0x10\n", Some("node (type)16\n")),
	("arg_null_type", "node (type)#null\n", Some("node (type)#null\n")),
	("arg_raw_string_type", "node (type)#\"str\"#\n", Some("node (type)str\n")),
	("arg_string_type", "node (type)\"str\"\n", Some("node (type)str\n")),
	("arg_true_type", "node (type)#true\n", Some("node (type)#true\n")),
	("arg_type", "node (type)arg\n", Some("node (type)arg\n")),
	("arg_zero_type", "node (type)0\n", Some("node (type)0\n")),
	("asterisk_in_block_comment", "node /* * */", Some("node\n")),
	("bare_emoji", "😁 happy!\n", Some("😁 happy!\n")),
	("bare_ident_dot", "node .", Some("node .\n")),
	("bare_ident_numeric_dot_fail", "node .0n", None),
	("bare_ident_numeric_fail", "node 0n", None),
	("bare_ident_numeric_sign_fail", "node +0n", None),
	("bare_ident_sign", "node +", Some("node +\n")),
	("bare_ident_sign_dot", "node +.", Some("node +.\n")),
	("binary", "node 0b10", Some("node 2\n")),
	("binary_trailing_underscore", "node 0b10_", Some("node 2\n")),
	("binary_underscore", "node 0b1_0\n", Some("node 2\n")),
	("blank_arg_type", "node (\"\")10", Some("node (\"\")10\n")),
	("blank_node_type", "(\"\")node\n", Some("(\"\")node\n")),
	("blank_prop_type", "node key=(\"\")#true\n", Some("node key=(\"\")#true\n")),
	("block_comment", "node /* comment */ arg\n", Some("node arg\n")),
	("block_comment_after_node", "node /* hey */ arg\n", Some("node arg\n")),
	("block_comment_before_node", "/* hey */ node", Some("node\n")),
	("block_comment_before_node_no_space", "/* hey*/node\n", Some("node\n")),
	("block_comment_newline", "/* hey */\n", Some("\n")),
	("bom_initial", "\u{feff}node arg\n", Some("node arg\n")),
	("bom_later_fail", "node \u{feff}arg\n", None),
	("boolean_arg", "node #false #true\n", Some("node #false #true\n")),
	("boolean_prop", "node prop1=#true prop2=#false\n", Some("node prop1=#true prop2=#false\n")),
	("braces_in_bare_id", "foo123{bar}\n", Some("foo123 {\n    bar\n}\n")),
	("chevrons_in_bare_id", "foo123<bar>foo weeee\n", Some("foo123<bar>foo weeee\n")),
	("comma_in_bare_id", "foo123,bar weeee\n", Some("foo123,bar weeee\n")),
	("comment_after_arg_type", "node (type)/*hey*/10\n", Some("node (type)10\n")),
	("comment_after_node_type", "(type)/*hey*/node\n", Some("(type)node\n")),
	("comment_after_prop_type", "node key=(type)/*hey*/10\n", Some("node key=(type)10\n")),
	("comment_and_newline", "node1 //\nnode2\n", Some("node1\nnode2\n")),
	("comment_in_arg_type", "node (type/*hey*/)10\n", Some("node (type)10\n")),
	("comment_in_node_type", "(type/*hey*/)node\n", Some("(type)node\n")),
	("comment_in_prop_type", "node key=(type/*hey*/)10\n", Some("node key=(type)10\n")),
	("commented_arg", "node /- arg1 arg2\n", Some("node arg2\n")),
	("commented_child", "node arg /- {\n     inner_node\n}\n", Some("node arg\n")),
	("commented_line", "// node_1\nnode_2", Some("node_2\n")),
	("commented_node", "/- node_1\nnode_2\n/- node_3\n", Some("node_2\n")),
	("commented_prop", "node /- prop=val arg\n", Some("node arg\n")),
	("crlf_between_nodes", "node1\r\nnode2\r\n", Some("node1\nnode2\n")),
	("dash_dash", "node --\n", Some("node --\n")),
	("dot_but_no_fraction_before_exponent_fail", "node 1.e7", None),
	("dot_but_no_fraction_fail", "node 1.", None),
	("dot_in_exponent_fail", "node 1.0.0", None),
	("dot_zero_fail", "node .0", None),
	("emoji", "node 😀\n", Some("node 😀\n")),
	("empty", "", Some("\n")),
	("empty_arg_type_fail", "node ()10\n", None),
	("empty_child", "node {\n}", Some("node\n")),
	("empty_child_different_lines", "node {\n}", Some("node\n")),
	("empty_child_same_line", "node {}", Some("node\n")),
	("empty_child_whitespace", "node {\n\n     }", Some("node\n")),
	("empty_line_comment", "//\nnode", Some("node\n")),
	("empty_node_type_fail", "()node\n", None),
	("empty_prop_type_fail", "node key=()#false\n", None),
	("empty_quoted_node_id", "\"\" arg\n", Some("\"\" arg\n")),
	("empty_quoted_prop_key", "node \"\"=empty\n", Some("node \"\"=empty\n")),
	("empty_string_arg", "node \"\"\n", Some("node \"\"\n")),
	("eof_after_escape", "node \\", Some("node\n")),
	("err_backslash_in_bare_id_fail", "foo123\\bar weeee\n", None),
	("esc_multiple_newlines", "node \"1\\\n\n\n2\"\n", Some("node \"12\"\n")),
	("esc_newline_in_string", "node \"hello\\nworld\"", Some("node \"hello\\nworld\"\n")),
	("esc_unicode_in_string", "node \"hello\\u{0a}world\"\n", Some("node \"hello\\nworld\"\n")),
	("escaped_whitespace", "// All of these strings are the same\nnode \\\n\t\"Hello\\n\\tWorld\" \\\n\t\"\"\"\n\tHello\n\t\tWorld\n\t\"\"\" \\\n\t\"Hello\\n\\      \\tWorld\" \\\n\t\"Hello\\n\\\n    \\tWorld\" \\\n\t\"Hello\\n\\t\\\n        World\"\n\n// Note that this file deliberately mixes space and newline indentation for\n// test purposes\n", Some("node \"Hello\\n\\tWorld\" \"Hello\\n\\tWorld\" \"Hello\\n\\tWorld\" \"Hello\\n\\tWorld\" \"Hello\\n\\tWorld\"\n")),
	("escline", "node \\\n    arg\n", Some("node arg\n")),
	("escline_after_semicolon", "node; \\\nnode\n", Some("node\nnode\n")),
	("escline_alone", "\\\n", Some("\n")),
	("escline_empty_line", "\\\n\nnode\n", Some("node\n")),
	("escline_end_of_node", "a \\\n\nb\n", Some("a\nb\n")),
	("escline_in_child_block", "parent {\n    child\n    \\ // comment\n    child\n}\n", Some("parent {\n    child\n    child\n}\n")),
	("escline_line_comment", "node \\   // comment\n    arg \\// comment\n    arg2\n", Some("node arg arg2\n")),
	("escline_node", "node1\n\\\nnode2\n", Some("node1\nnode2\n")),
	("escline_node_type", "\\\n(type)node\n", Some("(type)node\n")),
	("escline_slashdash", "node\n\\\n/-\nnode\n", Some("node\n")),
	("false_prefix_in_bare_id", "false_id\n", Some("false_id\n")),
	("false_prefix_in_prop_key", "node false_id=1\n", Some("node false_id=1\n")),
	("false_prop_key_fail", "node false=1\n", None),
	("floating_point_keyword_identifier_strings_fail", "floats inf -inf nan\n", None),
	("floating_point_keywords", "floats #inf #-inf #nan\n", Some("floats #inf #-inf #nan\n")),
	("hash_in_id_fail", "foo#bar weee\n", None),
	("hex", "node 0xabcdef1234567890", Some("node 12379813812177893520\n")),
	("hex_int", "node 0xABCDEF0123456789abcdef\n", Some("node 207698809136909011942886895\n")),
	("hex_int_underscores", "node 0xABC_def_0123", Some("node 737894400291\n")),
	("hex_leading_zero", "node 0x01", Some("node 1\n")),
	("illegal_char_in_binary_fail", "node 0bx01\n", None),
	("illegal_char_in_hex_fail", "node 0x10g10", None),
	("illegal_char_in_octal_fail", "node 0o45678", None),
	("initial_slashdash", "/-node here\nanother-node\n", Some("another-node\n")),
	("int_multiple_underscore", "node 1_2_3_4", Some("node 1234\n")),
	("just_block_comment", "/* hey */", Some("\n")),
	("just_child", "node {\n    inner_node     \n}", Some("node {\n    inner_node\n}\n")),
	("just_newline", "\n", Some("\n")),
	("just_node_id", "node", Some("node\n")),
	("just_space", " ", Some("\n")),
	("just_space_in_arg_type_fail", "node ( )false\n", None),
	("just_space_in_node_type_fail", "( )node\n", None),
	("just_space_in_prop_type_fail", "node key=( )0x10\n", None),
	("just_type_no_arg_fail", "node (type)\n", None),
	("just_type_no_node_id_fail", "(type)\n", None),
	("just_type_no_prop_fail", "node key=(type)\n", None),
	("leading_newline", "\nnode", Some("node\n")),
	("leading_zero_binary", "node 0b01\n", Some("node 1\n")),
	("leading_zero_int", "node 011\n", Some("node 11\n")),
	("leading_zero_oct", "node 0o01\n", Some("node 1\n")),
	("legacy_raw_string_fail", "node r\"foo\"\n", None),
	("legacy_raw_string_hash_fail", "node r#\"foo\"#\n", None),
	("multiline_comment", "node /*\nsome\ncomments\n*/ arg\n", Some("node arg\n")),
	("multiline_nodes", "node \\\n    arg1 \\// comment\n    arg2\n", Some("node arg1 arg2\n")),
	("multiline_raw_string", "node #\"\"\"\nhey\neveryone\nhow goes?\n\"\"\"#\n", Some("node \"hey\\neveryone\\nhow goes?\"\n")),
	("multiline_raw_string_containing_quotes", "node ##\"\"\"\n\"\"\"triple-quote\"\"\"\n##\"too few quotes\"##\n#\"\"\"too few #\"\"\"#\n\"\"\"##\n", Some("node \"\\\"\\\"\\\"triple-quote\\\"\\\"\\\"\\n##\\\"too few quotes\\\"##\\n#\\\"\\\"\\\"too few #\\\"\\\"\\\"#\"\n")),
	("multiline_raw_string_empty", "node #\"\"\"\n\"\"\"#", Some("node \"\"\n")),
	("multiline_raw_string_empty_indented", "node #\"\"\"\n\t\"\"\"#", Some("node \"\"\n")),
	("multiline_raw_string_indented", "node #\"\"\"\n    hey\n   everyone\n     how goes?\n  \"\"\"#\n", Some("node \"  hey\\n everyone\\n   how goes?\"\n")),
	("multiline_raw_string_non_matching_prefix_character_error_fail", "node #\"\"\"\n    hey\n   everyone\n\t   how goes?\n  \"\"\"#\n", None),
	("multiline_raw_string_non_matching_prefix_count_error_fail", "node #\"\"\"\n    hey\n everyone\n     how goes?\n  \"\"\"#\n", None),
	("multiline_raw_string_single_line_err_fail", "node #\"\"\"one line\"\"\"#", None),
	("multiline_raw_string_single_quote_err_fail", "node #\"\nhey\neveryone\nhow goes?\n\"#\n", None),
	("multiline_string", "node \"\"\"\nhey\neveryone\nhow goes?\n\"\"\"\n", Some("node \"hey\\neveryone\\nhow goes?\"\n")),
	("multiline_string_containing_quotes", "node \"\"\"\nthis string contains \"quotes\", twice\"\"\n\"\"\"\n", Some("node \"this string contains \\\"quotes\\\", twice\\\"\\\"\"\n")),
	("multiline_string_double_backslash", "node \"\"\"\na\\\\ b\na\\\\\\ b\n\"\"\"\n", Some("node \"a\\\\ b\\na\\\\b\"\n")),
	("multiline_string_empty", "node \"\"\"\n\"\"\"", Some("node \"\"\n")),
	("multiline_string_empty_indented", "node \"\"\"\n\t\"\"\"", Some("node \"\"\n")),
	("multiline_string_escape_delimiter", "node \"\"\"\n\\\"\"\"\n\"\"\"\n", Some("node \"\\\"\\\"\\\"\"\n")),
	("multiline_string_escape_in_closing_line", "node \"\"\"\n  foo \\\nbar\n  baz\n  \\   \"\"\"\n", Some("node \"foo bar\\nbaz\"\n")),
	("multiline_string_escape_in_closing_line_shallow", "node \"\"\"\n  foo \\\nbar\n  baz\n\\   \"\"\"\n", Some("node \"  foo bar\\n  baz\"\n")),
	("multiline_string_escape_newline_at_end", "node \"\"\"\n    a\n   \\\n\"\"\"\n", Some("node \" a\"\n")),
	("multiline_string_escape_newline_at_end_fail", "node \"\"\"\na\n   \\\n\"\"\"\n", None),
	("multiline_string_final_whitespace_escape_fail", "node \"\"\"\n  foo\n  bar\\\n  \"\"\"", None),
	("multiline_string_indented", "node \"\"\"\n    hey\n   everyone\n     how goes?\n  \"\"\"\n", Some("node \"  hey\\n everyone\\n   how goes?\"\n")),
	("multiline_string_non_literal_prefix_fail", "node \"\"\"\n\\s escaped prefix\n  literal prefix\n  \"\"\"\n", None),
	("multiline_string_non_matching_prefix_character_error_fail", "node \"\"\"\n    hey\n   everyone\n\t   how goes?\n  \"\"\"\n", None),
	("multiline_string_non_matching_prefix_count_error_fail", "node \"\"\"\n    hey\n everyone\n     how goes?\n  \"\"\"\n", None),
	("multiline_string_single_line_err_fail", "node \"\"\"one line\"\"\"", None),
	("multiline_string_single_quote_err_fail", "node \"\nhey\neveryone\nhow goes?\n\"\n", None),
	("multiline_string_whitespace_only", "// This file deliberately contains unusual whitespace\n// The first two strings are empty\nnode \"\"\"\n\u{2001} \t\"\"\" \"\"\"\n\u{2007}\t\u{a0}\\\n   \u{2009}\u{2000}        \n\u{2007}\t\u{a0}\"\"\" \"\"\"\n     \u{2009}\u{2000}                     \n\u{2007}\"\"\"\\\n    \\ // The next two strings contains only whitespace\n    \"\"\"\n \u{a0}\u{205f}    \n       \n \u{a0}\u{205f}   \\s \n \u{a0}\u{205f} \"\"\" #\"\"\"\n\u{a0}\u{205f}\u{2009}\u{2000}\n\n  \"\"\"#\n", Some("node \"\" \"\" \"\" \"\\n\\n    \" \"\\n\"\n")),
	("multiline_string_wrapped_binary", "node \"\"\"\n    dead\\\n    beef\n    \"\"\"\n", Some("node deadbeef\n")),
	("multiple_dots_in_float_before_exponent_fail", "node 1.0.0e7", None),
	("multiple_dots_in_float_fail", "node 1.0.0", None),
	("multiple_es_in_float_fail", "node 1.0E10e10\n", None),
	("multiple_x_in_hex_fail", "node 0xx10", None),
	("negative_exponent", "node 1.0e-10", Some("node 1.0E-10\n")),
	("negative_float", "node -1.0 key=-10.0", Some("node -1.0 key=-10.0\n")),
	("negative_int", "node -10 prop=-15", Some("node -10 prop=-15\n")),
	("nested_block_comment", "node /* hi /* there */ everyone */ arg\n", Some("node arg\n")),
	("nested_children", "node1 {\n    node2 {\n        node\n    }\n}", Some("node1 {\n    node2 {\n        node\n    }\n}\n")),
	("nested_comments", "node /*/* nested */*/ arg\n", Some("node arg\n")),
	("nested_multiline_block_comment", "node /*\nhey /*\nhow's\n*/\n    it going\n    */ arg\n", Some("node arg\n")),
	("newline_between_nodes", "node1\nnode2\n", Some("node1\nnode2\n")),
	("newlines_in_block_comment", "node /* hey so\nI was thinking\nabout newts */ arg\n", Some("node arg\n")),
	("no_decimal_exponent", "node 1e10", Some("node 1E+10\n")),
	("no_digits_in_hex_fail", "node 0x", None),
	("no_integer_digit_fail", "node .1", None),
	("no_solidus_escape_fail", "node \"\\/\"\n", None),
	("node_false", "node #false\n", Some("node #false\n")),
	("node_true", "node #true\n", Some("node #true\n")),
	("node_type", "(type)node", Some("(type)node\n")),
	("null_arg", "node #null\n", Some("node #null\n")),
	("null_prefix_in_bare_id", "null_id\n", Some("null_id\n")),
	("null_prefix_in_prop_key", "node null_id=1\n", Some("node null_id=1\n")),
	("null_prop", "node prop=#null\n", Some("node prop=#null\n")),
	("null_prop_key_fail", "node null=1\n", None),
	("numeric_arg", "node 15.7", Some("node 15.7\n")),
	("numeric_prop", "node prop=10.0", Some("node prop=10.0\n")),
	("octal", "node 0o76543210", Some("node 16434824\n")),
	("only_cr", "\r", Some("\n")),
	("only_line_comment", "// hi", Some("\n")),
	("only_line_comment_crlf", "// comment\r\n", Some("\n")),
	("only_line_comment_newline", "// hiiii\n", Some("\n")),
	("optional_child_semicolon", "node {foo;bar;baz}\n", Some("node {\n    foo\n    bar\n    baz\n}\n")),
	("parens_in_bare_id_fail", "foo123(bar)foo weeee\n", None),
	("parse_all_arg_types", "node 1 1.0 1.0e10 1.0e-10 0x01 0o07 0b10 arg \"arg\" #\"arg\\\"# #true #false #null\n", Some("node 1 1.0 1.0E+10 1.0E-10 1 7 2 arg arg \"arg\\\\\" #true #false #null\n")),
	("positive_exponent", "node 1.0e+10", Some("node 1.0E+10\n")),
	("positive_int", "node +10", Some("node 10\n")),
	("preserve_duplicate_nodes", "node\nnode\n", Some("node\nnode\n")),
	("preserve_node_order", "node2\nnode5\nnode1", Some("node2\nnode5\nnode1\n")),
	("prop_false_type", "node key=(type)#false\n", Some("node key=(type)#false\n")),
	("prop_float_type", "node key=(type)2.5E10\n", Some("node key=(type)2.5E+10\n")),
	("prop_hex_type", "node key=(type)0x10\n", Some("node key=(type)16\n")),
	("prop_identifier_type", "node key=(type)str\n", Some("node key=(type)str\n")),
	("prop_null_type", "node key=(type)#null\n", Some("node key=(type)#null\n")),
	("prop_raw_string_type", "node key=(type)#\"str\"#\n", Some("node key=(type)str\n")),
	("prop_string_type", "node key=(type)\"str\"\n", Some("node key=(type)str\n")),
	("prop_true_type", "node key=(type)#true\n", Some("node key=(type)#true\n")),
	("prop_type", "node key=(type)#true\n", Some("node key=(type)#true\n")),
	("prop_zero_type", "node key=(type)0\n", Some("node key=(type)0\n")),
	("question_mark_before_number", "node ?15\n", Some("node ?15\n")),
	("quote_in_bare_id_fail", "foo123\"bar weeee\n", None),
	("quoted_arg_type", "node (\"type/\")10", Some("node (\"type/\")10\n")),
	("quoted_node_name", "\"0node\"", Some("\"0node\"\n")),
	("quoted_node_type", "(\"type/\")node\n", Some("(\"type/\")node\n")),
	("quoted_numeric", "node prop=\"10.0\"", Some("node prop=\"10.0\"\n")),
	("quoted_prop_name", "node \"0prop\"=val\n", Some("node \"0prop\"=val\n")),
	("quoted_prop_type", "node key=(\"type/\")#true\n", Some("node key=(\"type/\")#true\n")),
	("r_node", "r \"arg\"\n", Some("r arg\n")),
	("raw_arg_type", "node (type)#true\n", Some("node (type)#true\n")),
	("raw_node_name", "#\"\\node\"#\n", Some("\"\\\\node\"\n")),
	("raw_node_type", "(type)node", Some("(type)node\n")),
	("raw_prop_type", "node key=(type)#true\n", Some("node key=(type)#true\n")),
	("raw_string_arg", "node_1 #\"\"arg\\n\"and #stuff\"#\nnode_2 ##\"#\"arg\\n\"#and #stuff\"##\n", Some("node_1 \"\\\"arg\\\\n\\\"and #stuff\"\nnode_2 \"#\\\"arg\\\\n\\\"#and #stuff\"\n")),
	("raw_string_backslash", "node #\"\\n\"#\n", Some("node \"\\\\n\"\n")),
	("raw_string_hash_no_esc", "node #\"#\"#\n", Some("node \"#\"\n")),
	("raw_string_just_backslash", "node #\"\\\"#\n", Some("node \"\\\\\"\n")),
	("raw_string_just_quote_fail", "// This fails because `\"\"\"` MUST be followed by a newline.\nnode #\"\"\"#\n", None),
	("raw_string_multiple_hash", "node ###\"\"#\"##\"###\n", Some("node \"\\\"#\\\"##\"\n")),
	("raw_string_newline", "node #\"\"\"\nhello\nworld\n\"\"\"#\n", Some("node \"hello\\nworld\"\n")),
	("raw_string_prop", "node_1 prop=#\"\"arg#\"\\n\"#\nnode_2 prop=##\"#\"arg#\"#\\n\"##\n", Some("node_1 prop=\"\\\"arg#\\\"\\\\n\"\nnode_2 prop=\"#\\\"arg#\\\"#\\\\n\"\n")),
	("raw_string_quote", "node #\"a\"b\"#\n", Some("node \"a\\\"b\"\n")),
	("repeated_arg", "node arg arg\n", Some("node arg arg\n")),
	("repeated_prop", "node prop=10 prop=11", Some("node prop=11\n")),
	("same_name_nodes", "node\nnode\n", Some("node\nnode\n")),
	("sci_notation_large", "node prop=1.23E+1000", Some("node prop=1.23E+1000\n")),
	("sci_notation_small", "node prop=1.23E-1000", Some("node prop=1.23E-1000\n")),
	("semicolon_after_child", "node {\n     childnode\n};\n", Some("node {\n    childnode\n}\n")),
	("semicolon_in_child", "node1 {\n      node2;\n}", Some("node1 {\n    node2\n}\n")),
	("semicolon_missing_after_children_fail", "foo123{bar}foo weeee\n", None),
	("semicolon_separated", "node1;node2", Some("node1\nnode2\n")),
	("semicolon_separated_nodes", "node1; node2; ", Some("node1\nnode2\n")),
	("semicolon_terminated", "node1;", Some("node1\n")),
	("single_arg", "node arg\n", Some("node arg\n")),
	("single_prop", "node prop=val\n", Some("node prop=val\n")),
	("slash_in_bare_id_fail", "foo123/bar weeee\n", None),
	("slashdash_after_arg_type_fail", "node (ty)/-arg1 arg2\n", None),
	("slashdash_after_node_type_fail", "(ty)/-node\nother-node\n", None),
	("slashdash_after_prop_key_fail", "node key /- = value\n", None),
	("slashdash_after_prop_val_type_fail", "node key=(ty)/-val other-arg\n", None),
	("slashdash_after_type_fail", "node (type) /- arg1 arg2\n", None),
	("slashdash_arg_after_newline_esc", "node \\\n    /- arg arg2\n", Some("node arg2\n")),
	("slashdash_arg_before_newline_esc", "node /-    \\\n    arg\n", Some("node\n")),
	("slashdash_before_children_end_fail", "node {\n    child1\n    /-\n}\n", None),
	("slashdash_before_eof_fail", "node foo /-\n", None),
	("slashdash_before_prop_value_fail", "node key = /-val etc\n", None),
	("slashdash_before_semicolon_fail", "node foo /-;\n", None),
	("slashdash_between_child_blocks_fail", "node { one } /- { two } { three }\n", None),
	("slashdash_child", "node /- {\n    node2\n}\n", Some("node\n")),
	("slashdash_child_block_before_entry_err_fail", "node /-{\n    child\n} foo {\n    bar\n}\n", None),
	("slashdash_empty_child", "node /- {\n}\n", Some("node\n")),
	("slashdash_escline_before_arg_type", "node /-\\\n(ty)arg1 arg2\n", Some("node arg2\n")),
	("slashdash_escline_before_children", "node arg1 /-\\\n{\n}\n", Some("node arg1\n")),
	("slashdash_escline_before_node", "/-\\\nnode1\nnode2\n", Some("node2\n")),
	("slashdash_false_node", "node foo /-\nnot-a-node bar\n", Some("node foo bar\n")),
	("slashdash_full_node", "/- node 1.0 \"a\" b=\"\"\"\nb\n\"\"\"\n", Some("\n")),
	("slashdash_in_slashdash", "/- node1 /- 1.0\nnode2", Some("node2\n")),
	("slashdash_inside_arg_type_fail", "node (/-bad)nope\n", None),
	("slashdash_inside_node_type_fail", "(/-ty)node\n", None),
	("slashdash_multi_line_comment_entry", "node 1 /- /*\nmulti\nline\ncomment\nhere\n*/ 2 3\n", Some("node 1 3\n")),
	("slashdash_multi_line_comment_inline", "node 1 /-/*two*/2 3\n", Some("node 1 3\n")),
	("slashdash_multiple_child_blocks", "node foo /-{\n    one\n} \\\n/-{\n    two\n} {\n    three\n} /-{\n    four\n}\n", Some("node foo {\n    three\n}\n")),
	("slashdash_negative_number", "node /--1.0 2.0", Some("node 2.0\n")),
	("slashdash_newline_before_children", "node 1 2 /-\n{\n    child\n}\n", Some("node 1 2\n")),
	("slashdash_newline_before_entry", "node 1 /-\n2 3\n", Some("node 1 3\n")),
	("slashdash_newline_before_node", "/-\nnode 1 2 3\n", Some("\n")),
	("slashdash_node_in_child", "node1 {\n    /- node2\n}", Some("node1\n")),
	("slashdash_node_with_child", "/- node {\n   node2\n}", Some("\n")),
	("slashdash_only_node", "/-node\n", Some("\n")),
	("slashdash_only_node_with_space", "/- node", Some("\n")),
	("slashdash_prop", "node /- key=value arg\n", Some("node arg\n")),
	("slashdash_raw_prop_key", "node /- key=value\n", Some("node\n")),
	("slashdash_repeated_prop", "node arg=correct /- arg=wrong\n", Some("node arg=correct\n")),
	("slashdash_single_line_comment_entry", "node 1 /- // stuff\n2 3\n", Some("node 1 3\n")),
	("slashdash_single_line_comment_node", "/- // this is a comment\nnode1\nnode2\n", Some("node2\n")),
	("space_after_arg_type", "node (type) 10\n", Some("node (type)10\n")),
	("space_after_node_type", "(type) node\n", Some("(type)node\n")),
	("space_after_prop_type", "node key=(type) #false\n", Some("node key=(type)#false\n")),
	("space_around_prop_marker", "node foo = bar\n", Some("node foo=bar\n")),
	("space_in_arg_type", "node (type )#false\n", Some("node (type)#false\n")),
	("space_in_node_type", "( type)node\n", Some("(type)node\n")),
	("space_in_prop_type", "node key=(type )#false\n", Some("node key=(type)#false\n")),
	("square_bracket_in_bare_id_fail", "foo123[bar]foo weeee\n", None),
	("string_arg", "node \"arg\"", Some("node arg\n")),
	("string_escaped_literal_whitespace", "node \"Hello \\\nWorld \\          Stuff\"\n", Some("node \"Hello World Stuff\"\n")),
	("string_prop", "node prop=\"val\"", Some("node prop=val\n")),
	("tab_space", "node\n", Some("node\n")),
	("trailing_crlf", "node\r\n", Some("node\n")),
	("trailing_underscore_hex", "node 0x123abc_", Some("node 1194684\n")),
	("trailing_underscore_octal", "node 0o123_\n", Some("node 83\n")),
	("true_prefix_in_bare_id", "true_id\n", Some("true_id\n")),
	("true_prefix_in_prop_key", "node true_id=1\n", Some("node true_id=1\n")),
	("true_prop_key_fail", "node true=1\n", None),
	("two_nodes", "node1\nnode2\n", Some("node1\nnode2\n")),
	("type_before_prop_key_fail", "node (type)key=10\n", None),
	("unbalanced_raw_hashes_fail", "node ##\"foo\"#\n", None),
	("underscore_at_start_of_fraction_fail", "node 1._7", None),
	("underscore_at_start_of_hex_fail", "node 0x_10", None),
	("underscore_before_number", "node _15\n", Some("node _15\n")),
	("underscore_in_exponent", "node 1.0e-10_0\n", Some("node 1.0E-100\n")),
	("underscore_in_float", "node 1_1.0\n", Some("node 11.0\n")),
	("underscore_in_fraction", "node 1.0_2", Some("node 1.02\n")),
	("underscore_in_int", "node 1_0\n", Some("node 10\n")),
	("underscore_in_octal", "node 0o012_3456_7", Some("node 342391\n")),
	("unicode_delete_fail", "// 0x007F (Delete)\nnode1 \u{7f}arg\n", None),
	("unicode_escaped_above_max_fail", "no \"Higher than max Unicode Scalar Value \\u{10FFFF} \\u{11FFFF}\"\n", None),
	("unicode_escaped_h1_fail", "no \"Surrogates high\\u{D800}\"\n", None),
	("unicode_escaped_h2_fail", "no \"Surrogates high\\u{D911}\"\n", None),
	("unicode_escaped_h3_fail", "no \"Surrogates high\\u{DABB}\"\n", None),
	("unicode_escaped_h4_fail", "no \"Surrogates high\\u{DBFF}\"\n", None),
	("unicode_escaped_l1_fail", "no \"Surrogates low\\u{DC00}\"\n", None),
	("unicode_escaped_l2_fail", "no \"Surrogates low\\u{DEAD}\"\n", None),
	("unicode_escaped_l3_fail", "eno \"Surrogates low\\u{DFFF}\"\n", None),
	("unicode_escaped_too_long_lead0_fail", "no \"Even with leading 0s Unicode Scalar Value escapes must ≤6: \\u{0012345}\"\n", None),
	("unicode_fsi_fail", "// 0x2068\nnode1 \u{2068}arg\n", None),
	("unicode_lre_fail", "// 0x202A\nnode1 \u{202a}arg\n", None),
	("unicode_lri_fail", "// 0x2066\nnode1\u{2066}\u{7f}arg\n", None),
	("unicode_lrm_fail", "// 0x200E\nnode \u{200e}arg\n", None),
	("unicode_lro_fail", "// 0x202D\nnode \u{202d}arg\n", None),
	("unicode_pdf_fail", "// 0x202C\nnode \u{202c}arg\n", None),
	("unicode_pdi_fail", "// 0x2069\nnode \u{2069}arg\n", None),
	("unicode_rle_fail", "// 0x202B\nnode1 \u{202b}arg\n", None),
	("unicode_rli_fail", "// 0x2067\nnode1 \u{2067}arg\n", None),
	("unicode_rlm_fail", "// 0x200F\nnode \u{200f}arg\n", None),
	("unicode_rlo_fail", "// 0x202E\nnode \u{202e}arg\n", None),
	("unicode_silly", "ノード\u{3000}お名前=ฅ^•ﻌ•^ฅ\n", Some("ノード お名前=ฅ^•ﻌ•^ฅ\n")),
	("unicode_under_0x20_fail", "// 0x0019\nnode1 \u{19}arg\n", None),
	("unterminated_empty_node_fail", "node {\n", None),
	("unusual_bare_id_chars_in_quoted_id", "\"foo123~!@$%^&*.:'|?+<>,`-_\" weeee\n", Some("foo123~!@$%^&*.:'|?+<>,`-_ weeee\n")),
	("unusual_chars_in_bare_id", "foo123~!@$%^&*.:'|?+<>,`-_ weeee\n", Some("foo123~!@$%^&*.:'|?+<>,`-_ weeee\n")),
	("vertical_tab_whitespace", "node arg\u{b}node2 arg2\n", Some("node arg\nnode2 arg2\n")),
	("zero_float", "node 0.0\n", Some("node 0.0\n")),
	("zero_int", "node 0\n", Some("node 0\n")),
	("zero_space_before_first_arg_fail", "node\"string\"\n", None),
	("zero_space_before_prop_fail", "node foo=\"value\"bar=5\n", None),
	("zero_space_before_second_arg_fail", "node \"string\"1\n", None),
	("zero_space_before_slashdash_arg", "node \"string\"/-1\n", Some("node string\n")),
	("zero_space_before_slashdash_children", "node \"string\"/-{}\nnode \"string\" {}/-{}\n", Some("node string\nnode string\n")),
	("zero_space_before_slashdash_prop", "node \"string\"/-foo=1\n", Some("node string\n")),
];
