"""The reference list of profession groups (rumpun) and professions (jenis) the server accepts."""

from odoo import fields, models


class RegnakesProfession(models.Model):
    _name = "sdmk.regnakes.profession"
    _description = "RegNakes profession"
    _order = "sequence, id"
    _rec_names_search = ["name", "code", "group_name"]

    code = fields.Char(required=True, index=True)
    name = fields.Char(required=True)
    group_code = fields.Char("Group code", required=True)
    group_name = fields.Char("Profession group", required=True)
    sequence = fields.Integer(default=10)

    _sql_constraints = [("code_unique", "unique(code)", "A profession code is listed once.")]
